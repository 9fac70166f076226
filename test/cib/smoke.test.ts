import { expect, it } from "vitest";
import { Net } from "./net.ts";
it("smoke", () => {
  const net = new Net([1, 2, 3]);
  net.campaign(1);
  expect(net.raft(1).role).toBe("leader");
  net.propose(1, "a");
  net.propose(2, "b");
  for (const id of [1, 2, 3]) expect(net.node(id).applied.map((e) => e.data)).toEqual(["a", "b"]);
  console.log(net.notes);
});
