// Every spelling of a private destination is refused; public addresses, in whatever spelling,
// are not. No test sends traffic anywhere.
import { describe, expect, it } from "vitest";
import { isPrivateAddress } from "./private-address.server.ts";

function expectPrivate(addresses: string[]) {
  for (const address of addresses) expect(isPrivateAddress(address), address).toBe(true);
}
function expectPublic(addresses: string[]) {
  for (const address of addresses) expect(isPrivateAddress(address), address).toBe(false);
}

describe("isPrivateAddress", () => {
  it("refuses private, loopback, link-local, multicast and reserved IPv4", () => {
    expectPrivate([
      "127.0.0.1",
      "127.255.255.254",
      "10.1.2.3",
      "172.20.0.1",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "224.0.0.1",
      "255.255.255.255",
      "198.18.0.1",
    ]);
    expectPublic(["8.8.8.8", "1.1.1.1", "93.184.216.34"]);
  });

  it("refuses IPv6 loopback and unspecified in every spelling", () => {
    expectPrivate(["::1", "0:0:0:0:0:0:0:1", "::0:1", "::", "0:0:0:0:0:0:0:0", "::0"]);
  });

  it("refuses IPv4-compatible addresses", () => {
    expectPrivate(["::127.0.0.1", "::7f00:1", "0:0:0:0:0:0:7f00:1", "::10.0.0.1", "::a9fe:a9fe"]);
  });

  it("refuses IPv4-mapped private addresses in every spelling, and allows public ones", () => {
    expectPrivate([
      "::ffff:127.0.0.1",
      "::FFFF:127.0.0.1",
      "::ffff:7f00:1",
      "0:0:0:0:0:ffff:7f00:1",
      "0000:0000:0000:0000:0000:ffff:127.0.0.1",
      "::ffff:169.254.169.254",
      "::ffff:a9fe:a9fe",
      "::ffff:10.0.0.1",
      "::ffff:0:127.0.0.1", // IPv4-translated
    ]);
    expectPublic(["::ffff:8.8.8.8", "::ffff:808:808"]);
  });

  it("refuses 6to4 addresses that carry a private IPv4", () => {
    expectPrivate(["2002:7f00:1::1", "2002:7f00:0001::", "2002:a9fe:a9fe::1", "2002:c0a8:101::"]);
    expectPublic(["2002:808:808::1"]);
  });

  it("refuses NAT64 addresses that carry a private IPv4", () => {
    expectPrivate([
      "64:ff9b::127.0.0.1",
      "64:ff9b::7f00:1",
      "64:ff9b::a9fe:a9fe",
      "64:ff9b:1:7f00:0:100::", // 64:ff9b:1::/48 carrying 127.0.0.1
      "64:ff9b:1:a9fe:a9:fe00::", // … carrying 169.254.169.254
    ]);
    expectPublic(["64:ff9b::8.8.8.8", "64:ff9b:1:808:8:800::"]);
  });

  it("refuses Teredo, site-local, unique-local, link-local and multicast IPv6", () => {
    expectPrivate([
      "2001::1",
      "2001:0:4136:e378:8000:63bf:3fff:fdd2",
      "fec0::1",
      "feff::1",
      "fc00::1",
      "fd12:3456::1",
      "fe80::1",
      "fe80::1%eth0",
      "febf::1",
      "ff02::1",
      "ff05::1:3",
    ]);
  });

  it("allows public IPv6 and leaves host names to the DNS check", () => {
    expectPublic(["2606:4700::1111", "2001:4860:4860::8888", "2a00:1450::1", "example.com"]);
  });
});
