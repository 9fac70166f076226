import { describe, expect, it } from "vitest";
import { checkBmcPassword, checkCidr, checkEndpoint, checkHostname, checkIpv4List, checkPort, checkTimeServers, checkVlan, inSubnet, networkOf, parseCidr, parseEndpoint } from "./validate.ts";

describe("validators", () => {
  it("host names: lower-case labels, no dots", () => {
    expect(checkHostname("hapd-a")).toBeNull();
    expect(checkHostname("Hapd")).toBe("use lower-case letters");
    expect(checkHostname("a.b")).toContain("no dots");
    expect(checkHostname("-a")).toContain("must not start or end");
    expect(checkHostname("")).toContain("required");
    expect(checkHostname("a".repeat(64))).toContain("at most 63");
  });

  it("address/prefix: a host of a network from /8 to /30", () => {
    expect(checkCidr("10.70.0.1/24")).toBeNull();
    expect(checkCidr("10.70.0.1")).toContain("has no /prefix");
    expect(checkCidr("10.70.0.256/24")).toContain("is not an IPv4 address");
    expect(checkCidr("10.70.0.1/31")).toContain("from 8 to 30");
    expect(checkCidr("10.70.0.0/24")).toContain("network address");
    expect(checkCidr("10.70.0.255/24")).toContain("broadcast address");
    expect(networkOf(parseCidr("192.168.10.21/20")!)).toBe("192.168.0.0/20");
    expect(inSubnet("192.168.15.1", parseCidr("192.168.10.21/20")!)).toBe(true);
    expect(inSubnet("192.168.16.1", parseCidr("192.168.10.21/20")!)).toBe(false);
  });

  it("ports, endpoints and VLANs", () => {
    expect(checkPort("5405")).toBeNull();
    expect(checkPort("0")).toContain("not a port");
    expect(checkPort("65536")).toContain("not a port");
    expect(checkEndpoint("10.0.0.1:623", 623)).toBeNull();
    expect(checkEndpoint("10.0.0.1:99999", 623)).toContain('port "99999"');
    expect(checkEndpoint("10.0.0.1:1:2", 623)).toContain("one ':'");
    expect(parseEndpoint("10.0.0.1", 623)).toEqual({ address: "10.0.0.1", port: 623 });
    expect(checkVlan("")).toBeNull();
    expect(checkVlan("4095")).toContain("1 to 4094");
  });

  it("lists: DNS addresses and time servers", () => {
    expect(checkIpv4List("1.1.1.1, 9.9.9.9", "DNS", 3)).toBeNull();
    expect(checkIpv4List("1.1.1.1 2.2.2.2 3.3.3.3 4.4.4.4", "DNS", 3)).toContain("at most 3");
    expect(checkTimeServers("pool.ntp.org, 10.0.0.1")).toBeNull();
    expect(checkTimeServers("pool..ntp.org")).toContain("not a host name");
    expect(checkTimeServers("10.0.0.300")).toContain("not an IPv4 address");
  });

  it("quotes long input short in messages", () => {
    expect(checkPort("1".repeat(60))).toBe(`"${"1".repeat(21)}..." is not a port (1-65535)`);
  });

  it("BMC passwords fit IPMI v2.0 (20 bytes)", () => {
    expect(checkBmcPassword("x".repeat(20))).toBeNull();
    expect(checkBmcPassword("x".repeat(21))).toContain("at most 20");
  });
});
