import { describe, expect, it } from "vitest";
import { readCib } from "./cib-xml.ts";
import { XmlError, parseXml } from "./xml.ts";

const wrap = (resources: string, constraints = "", status = "") => `<?xml version="1.0"?>
<cib crm_feature_set="3.16.1" have-quorum="1" dc-uuid="a">
  <configuration>
    <crm_config><cluster_property_set id="cib-bootstrap-options"><nvpair id="p1" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
    <nodes><node id="a" uname="host-a"/><node id="b" uname="host-b"/></nodes>
    <resources>${resources}</resources>
    <constraints>${constraints}</constraints>
  </configuration>
  <status>${status}</status>
</cib>`;

const dummy = (id: string, extra = "") => `<primitive id="${id}" class="ocf" provider="pacemaker" type="Dummy">${extra}</primitive>`;

function error(text: string): XmlError {
  try {
    readCib(text, "t.xml");
  } catch (e) {
    if (e instanceof XmlError) return e;
    throw e;
  }
  throw new Error("expected an error");
}

describe("reading a CIB", () => {
  it("reads resources, meta, operations and constraints", () => {
    const cib = readCib(
      wrap(
        dummy("vm1", `<meta_attributes id="m"><nvpair id="m1" name="allow-migrate" value="true"/></meta_attributes><operations><op id="o" name="monitor" interval="10s" timeout="20s"><instance_attributes id="i"><nvpair id="i1" name="OCF_CHECK_LEVEL" value="10"/></instance_attributes></op></operations>`) +
          `<group id="g">${dummy("g1")}${dummy("g2")}</group><clone id="c"><meta_attributes id="cm"><nvpair id="cm1" name="promotable" value="true"/></meta_attributes>${dummy("d")}</clone>`,
        `<rsc_colocation id="col" rsc="vm1" with-rsc="c" with-rsc-role="Promoted" score="INFINITY"/><rsc_order id="ord" first="c" first-action="promote" then="vm1" then-action="start" kind="Mandatory"/>`,
      ),
    );
    expect(cib.config.resources.map((r) => r.kind)).toEqual(["primitive", "group", "clone"]);
    const vm = cib.config.resources[0]!;
    expect(vm.kind === "primitive" && vm.ops[0]).toMatchObject({ name: "monitor", interval_ms: 10_000, params: { OCF_CHECK_LEVEL: "10" } });
    expect(vm.meta).toEqual({ "allow-migrate": "true" });
    const clone = cib.config.resources[2]!;
    expect(clone.kind === "clone" && clone.promotable).toBe(true);
    expect(cib.config.constraints[0]).toMatchObject({ kind: "colocation", withRscRole: "Promoted", score: 1_000_000 });
    expect(cib.config.constraints[1]).toMatchObject({ kind: "order", firstAction: "promote", thenAction: "start", orderKind: "Mandatory" });
    expect(cib.status.haveQuorum).toBe(true);
  });

  it("reads node state and operation history", () => {
    const cib = readCib(
      wrap(
        dummy("vm1"),
        "",
        `<node_state id="a" uname="host-a" in_ccm="false" crmd="offline" join="down" expected="member">
           <transient_attributes id="a"><instance_attributes id="s"><nvpair id="s1" name="fail-count-vm1#monitor_10000" value="2"/></instance_attributes></transient_attributes>
           <lrm id="a"><lrm_resources><lrm_resource id="vm1" class="ocf" provider="pacemaker" type="Dummy">
             <lrm_rsc_op id="vm1_last_0" operation_key="vm1_start_0" operation="start" call-id="4" rc-code="0" op-status="0" interval="0" transition-key="3:1:0:uuid" op-digest="x"/>
           </lrm_resource></lrm_resources></lrm>
         </node_state>`,
      ),
    );
    const ns = cib.status.nodes[0]!;
    expect(ns).toMatchObject({ inCcm: "false", crmd: "offline", expected: "member", attributes: { "fail-count-vm1#monitor_10000": "2" } });
    expect(ns.history![0]!.ops[0]).toMatchObject({ operation: "start", callId: 4, rc: 0, targetRc: 0, operationKey: "vm1_start_0", opDigest: "x" });
  });

  it("names the element and the reason for an invalid score", () => {
    const e = error(wrap(dummy("vm1"), `<rsc_location id="l1" rsc="vm1" node="host-a" score="lots"/>`));
    expect(e.message).toBe("/cib/configuration/constraints/rsc_location[@id='l1']: score='lots' is not a score (an integer or ±INFINITY)");
  });

  it("refuses what the model does not support, by name", () => {
    expect(error(wrap(`<bundle id="b1"/>`)).message).toBe("/cib/configuration/resources/bundle[@id='b1']: bundles are not supported");
    expect(error(wrap(dummy("a") + dummy("b"), `<rsc_order id="s"><resource_set id="rs"><resource_ref id="a"/></resource_set></rsc_order>`)).message).toMatch(/rsc_order\[@id='s'\]: resource sets are not supported/);
    expect(error(wrap(`<primitive id="x" class="nagios" type="check"/>`)).message).toMatch(/primitive\[@id='x'\]: class='nagios' is not supported/);
    expect(error(wrap(dummy("a", `<operations><op id="o" name="monitor" interval="often"/></operations>`))).message).toMatch(/op\[@id='o'\]: interval='often' is not a duration/);
  });

  it("reports malformed XML with line and column", () => {
    expect(() => parseXml("<cib>\n  <configuration>\n</cib>", "x.xml")).toThrow(/x\.xml:3:1: not well-formed XML: end tag <\/cib> does not match <configuration>/);
    expect(() => parseXml('<a b="1" b="2"/>')).toThrow(/duplicate attribute 'b'/);
    expect(() => parseXml('<a b="x & y"/>')).toThrow(/entity reference/);
    expect(parseXml('<a b="&lt;&#65;&#x42;&amp;"/>').attrs["b"]).toBe("<AB&");
  });
});
