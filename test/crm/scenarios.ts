// Hand-written scenarios an operator can read: a one-line intent, the situation, and the
// Transition Summary crm_simulate (Pacemaker 2.1.5) prints for it. The expected lines are checked
// in, so these run as regression tests even where crm_simulate is not installed; where it is, the
// differential test also re-asks it.
import type { ClusterSpec } from "./cib-builder.ts";

export interface HandScenario {
  name: string;
  intent: string;
  spec: (now_s: number) => ClusterSpec;
  expected: string[];
}

const fenceDev = { id: "fence-ipmi", class: "stonith" as const, type: "fence_ipmilan", params: { ip: "10.72.0.1" }, running: [{ node: "host-b" }] };
const threeNodes = (overrides: Record<string, object> = {}) =>
  ["host-a", "host-b", "arb"].map((name) => ({ name, ...(overrides[name] ?? {}) }));
const banArb = (...ids: string[]) => ids.map((id) => `<rsc_location id="ban-${id}-arb" rsc="${id}" node="arb" score="-INFINITY"/>`);

export const HAND_SCENARIOS: HandScenario[] = [
  {
    name: "kill-host-a",
    intent: "host-a's hapd is killed: host-a leaves the membership, is fenced, and the service starts on host-b",
    spec: (now_s) => ({
      now_s,
      nodes: threeNodes({ "host-a": { state: "lost" } }),
      resources: [fenceDev, { id: "web", running: [{ node: "host-a" }] }],
      constraints: [...banArb("fence-ipmi", "web"), `<rsc_location id="web-prefers-a" rsc="web" node="host-a" score="100"/>`],
      dc: "host-b",
    }),
    expected: [
      "  * Fence (reboot) host-a 'peer is no longer part of the cluster'",
      "  * Move       web     ( host-a -> host-b )"
    ],
  },
  {
    name: "crmd-down-host-a",
    intent: "host-a is still a member but its controller is gone: fenced, then recovered elsewhere",
    spec: (now_s) => ({
      now_s,
      nodes: threeNodes({ "host-a": { state: "crmd-down" } }),
      resources: [fenceDev, { id: "web", running: [{ node: "host-a" }] }, { id: "db", running: [{ node: "host-b" }] }],
      constraints: banArb("fence-ipmi", "web", "db"),
      dc: "host-b",
    }),
    expected: [
      "  * Fence (reboot) host-a 'peer process is no longer available'",
      "  * Move       web     ( host-a -> host-b )"
    ],
  },
  {
    name: "monitor-fails-restart",
    intent: "a failing monitor without migration-threshold: the service is recovered where it is",
    spec: (now_s) => ({
      now_s,
      nodes: threeNodes(),
      resources: [fenceDev, { id: "web", running: [{ node: "host-a" }], failures: [{ node: "host-a", op: "monitor", rc: 7 }] }],
      constraints: banArb("fence-ipmi", "web"),
    }),
    expected: [
      "  * Recover    web     ( host-a )"
    ],
  },
  {
    name: "monitor-fails-threshold-move",
    intent: "the monitor failed twice with migration-threshold=2: the service moves to host-b",
    spec: (now_s) => ({
      now_s,
      nodes: threeNodes(),
      resources: [fenceDev, { id: "web", meta: { "migration-threshold": "2" }, running: [{ node: "host-a" }], failures: [{ node: "host-a", op: "monitor", rc: 7, count: 2 }] }],
      constraints: banArb("fence-ipmi", "web"),
    }),
    expected: [
      "  * Recover    web     ( host-a -> host-b )"
    ],
  },
  {
    name: "monitor-fails-below-threshold",
    intent: "one failure of three allowed: recover in place",
    spec: (now_s) => ({
      now_s,
      nodes: threeNodes(),
      resources: [fenceDev, { id: "web", meta: { "migration-threshold": "3" }, running: [{ node: "host-a" }], failures: [{ node: "host-a", op: "monitor", rc: 1 }] }],
      constraints: banArb("fence-ipmi", "web"),
    }),
    expected: [
      "  * Recover    web     ( host-a )"
    ],
  },
  {
    name: "standby-host-a",
    intent: "host-a is put in standby: its services move to host-b",
    spec: (now_s) => ({
      now_s,
      nodes: threeNodes({ "host-a": { standby: true } }),
      resources: [fenceDev, { id: "web", running: [{ node: "host-a" }] }, { id: "vm1", running: [{ node: "host-a" }] }],
      constraints: banArb("fence-ipmi", "web", "vm1"),
      rscDefaults: { "resource-stickiness": "100" },
    }),
    expected: [
      "  * Move       web     ( host-a -> host-b )",
      "  * Move       vm1     ( host-a -> host-b )"
    ],
  },
  {
    name: "online-again-stays",
    intent: "host-a is back online but stickiness keeps the service on host-b",
    spec: (now_s) => ({
      now_s,
      nodes: threeNodes(),
      resources: [fenceDev, { id: "web", running: [{ node: "host-b" }] }],
      constraints: [...banArb("fence-ipmi", "web"), `<rsc_location id="web-prefers-a" rsc="web" node="host-a" score="50"/>`],
      rscDefaults: { "resource-stickiness": "100" },
    }),
    expected: [],
  },
  {
    name: "live-migrate-on-standby",
    intent: "a migratable guest on a host going to standby is live-migrated, not restarted",
    spec: (now_s) => ({
      now_s,
      nodes: threeNodes({ "host-a": { standby: true } }),
      resources: [fenceDev, { id: "vm1", meta: { "allow-migrate": "true" }, running: [{ node: "host-a" }] }],
      constraints: banArb("fence-ipmi", "vm1"),
    }),
    expected: [
      "  * Migrate    vm1     ( host-a -> host-b )"
    ],
  },
  {
    name: "group-member-fails",
    intent: "the middle member of a group fails: it is recovered and the members after it restart",
    spec: (now_s) => ({
      now_s,
      nodes: threeNodes(),
      resources: [
        fenceDev,
        {
          kind: "group",
          id: "websvc",
          members: [
            { id: "ip", running: [{ node: "host-a" }] },
            { id: "fs", running: [{ node: "host-a" }], failures: [{ node: "host-a", op: "monitor", rc: 7 }] },
            { id: "httpd", running: [{ node: "host-a" }] },
          ],
        },
      ],
      constraints: banArb("fence-ipmi", "websvc"),
    }),
    expected: [
      "  * Recover    fs      ( host-a )",
      "  * Restart    httpd   ( host-a )  due to required fs start"
    ],
  },
  {
    name: "chain-first-cannot-start",
    intent: "db failed to start on both hosts: app (ordered after and colocated with db) stops, web after app stops",
    spec: (now_s) => ({
      now_s,
      nodes: threeNodes(),
      resources: [
        fenceDev,
        { id: "db", failures: [{ node: "host-a", op: "start", rc: 1 }, { node: "host-b", op: "start", rc: 1 }] },
        { id: "app", running: [{ node: "host-a" }] },
        { id: "web", running: [{ node: "host-a" }] },
      ],
      constraints: [
        ...banArb("fence-ipmi", "db", "app", "web"),
        `<rsc_order id="db-then-app" first="db" then="app" kind="Mandatory"/>`,
        `<rsc_colocation id="app-with-db" rsc="app" with-rsc="db" score="INFINITY"/>`,
        `<rsc_order id="app-then-web" first="app" then="web" kind="Mandatory"/>`,
      ],
    }),
    expected: [
      "  * Stop       db      ( host-a )  due to node availability",
      "  * Stop       db      ( host-b )  due to node availability",
      "  * Stop       app     ( host-a )  due to node availability",
      "  * Stop       web     ( host-a )  due to required app start"
    ],
  },
  {
    name: "promoted-node-lost",
    intent: "the node holding the promoted volume is lost: fence it, promote on host-b, move the guest there",
    spec: (now_s) => ({
      now_s,
      nodes: threeNodes({ "host-a": { state: "lost", transient: { "master-drbd": "100" } }, "host-b": { transient: { "master-drbd": "10" } } }),
      resources: [
        fenceDev,
        {
          kind: "clone",
          id: "drbd-clone",
          promotable: true,
          meta: { "clone-max": "2", "promoted-max": "1" },
          child: { id: "drbd", running: [{ node: "host-a", role: "Promoted" }, { node: "host-b", role: "Unpromoted" }] },
        },
        { id: "vm1", running: [{ node: "host-a" }] },
      ],
      constraints: [
        ...banArb("fence-ipmi", "drbd-clone", "vm1"),
        `<rsc_colocation id="vm1-with-promoted" rsc="vm1" with-rsc="drbd-clone" with-rsc-role="Promoted" score="INFINITY"/>`,
        `<rsc_order id="promote-then-vm1" first="drbd-clone" first-action="promote" then="vm1" then-action="start"/>`,
      ],
      dc: "host-b",
    }),
    expected: [
      "  * Fence (reboot) host-a 'peer is no longer part of the cluster'",
      "  * Stop       drbd:0     (               Promoted host-a )  due to node availability",
      "  * Promote    drbd:1     ( Unpromoted -> Promoted host-b )",
      "  * Move       vm1        (              host-a -> host-b )"
    ],
  },
  {
    name: "maintenance-node",
    intent: "a node in maintenance: its resources are left alone even though a monitor failed",
    spec: (now_s) => ({
      now_s,
      nodes: threeNodes({ "host-a": { maintenance: true } }),
      resources: [fenceDev, { id: "web", running: [{ node: "host-a" }], failures: [{ node: "host-a", op: "monitor", rc: 7 }] }],
      constraints: banArb("fence-ipmi", "web"),
    }),
    expected: [],
  },
  {
    name: "no-quorum-stop",
    intent: "this partition lost quorum with no-quorum-policy=stop: everything stops, nothing starts",
    spec: (now_s) => ({
      now_s,
      nodes: [{ name: "host-a" }, { name: "host-b", state: "lost" as const }, { name: "arb", state: "lost" as const }],
      resources: [{ ...fenceDev, running: [{ node: "host-a" }] }, { id: "web", running: [{ node: "host-a" }] }, { id: "db" }],
      constraints: banArb("fence-ipmi", "web", "db"),
      haveQuorum: false,
      dc: "host-a",
    }),
    expected: [
      "  * Stop       fence-ipmi     ( host-a )  due to no quorum",
      "  * Stop       web            ( host-a )  due to no quorum",
      "  * Start      db             ( host-a )  due to no quorum (blocked)"
    ],
  },
  {
    name: "utilization-spread",
    intent: "two guests that do not fit on one host are placed on different hosts",
    spec: (now_s) => ({
      now_s,
      nodes: [
        { name: "host-a", utilization: { cpu: 4, memory: 4096 } },
        { name: "host-b", utilization: { cpu: 4, memory: 4096 } },
        { name: "arb", utilization: { cpu: 1, memory: 512 } },
      ],
      resources: [fenceDev, { id: "vm1", utilization: { cpu: 3, memory: 3072 } }, { id: "vm2", utilization: { cpu: 3, memory: 3072 } }],
      constraints: banArb("fence-ipmi", "vm1", "vm2"),
      properties: { "placement-strategy": "utilization" },
    }),
    expected: [
      "  * Start      vm1     ( host-a )",
      "  * Start      vm2     ( host-b )"
    ],
  },
  {
    name: "on-fail-fence",
    intent: "a monitor with on-fail=fence fails: the node is fenced and the service recovered on the survivor",
    spec: (now_s) => ({
      now_s,
      nodes: threeNodes(),
      resources: [fenceDev, { id: "web", monitors: [{ interval_s: 10, onFail: "fence" }], running: [{ node: "host-a" }], failures: [{ node: "host-a", op: "monitor", rc: 7 }] }],
      constraints: banArb("fence-ipmi", "web"),
    }),
    expected: [
      "  * Fence (reboot) host-a 'web failed there'",
      "  * Recover    web     ( host-a -> host-b )"
    ],
  },
  {
    name: "on-fail-block",
    intent: "a monitor with on-fail=block fails: the service is left as it is (blocked)",
    spec: (now_s) => ({
      now_s,
      nodes: threeNodes(),
      resources: [fenceDev, { id: "web", monitors: [{ interval_s: 10, onFail: "block" }], running: [{ node: "host-a" }], failures: [{ node: "host-a", op: "monitor", rc: 7 }] }],
      constraints: banArb("fence-ipmi", "web"),
    }),
    expected: [],
  },
  {
    name: "target-role-stopped",
    intent: "an operator sets target-role=Stopped on a running guest: it stops, its dependent too",
    spec: (now_s) => ({
      now_s,
      nodes: threeNodes(),
      resources: [fenceDev, { id: "vm1", meta: { "target-role": "Stopped" }, running: [{ node: "host-a" }] }, { id: "app", running: [{ node: "host-a" }] }],
      constraints: [...banArb("fence-ipmi", "vm1", "app"), `<rsc_colocation id="app-with-vm1" rsc="app" with-rsc="vm1" score="INFINITY"/>`],
    }),
    expected: [
      "  * Stop       vm1     ( host-a )  due to node availability",
      "  * Stop       app     ( host-a )  due to node availability"
    ],
  },
];
