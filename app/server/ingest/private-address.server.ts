// Which IP addresses a tenant's URL source or webhook may never reach: loopback, private,
// link-local (cloud metadata), multicast and reserved networks, in both families. IPv6 forms
// that carry an IPv4 address (IPv4-compatible, IPv4-mapped, IPv4-translated, 6to4, NAT64) are
// judged by the IPv4 address they carry; Teredo, whose embedded address is obfuscated and
// relayed, is refused outright. Pure: touches nothing.
import net from "node:net";

const blockedV4 = new net.BlockList();
for (const [network, prefix] of [
  ["0.0.0.0", 8], // "this network"
  ["10.0.0.0", 8],
  ["100.64.0.0", 10], // carrier-grade NAT
  ["127.0.0.0", 8],
  ["169.254.0.0", 16], // link-local, cloud metadata
  ["172.16.0.0", 12],
  ["192.0.0.0", 24], // IETF protocol assignments
  ["192.0.2.0", 24], // documentation
  ["192.88.99.0", 24], // 6to4 relay anycast
  ["192.168.0.0", 16],
  ["198.18.0.0", 15], // benchmarking
  ["198.51.100.0", 24], // documentation
  ["203.0.113.0", 24], // documentation
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, broadcast
] as const) {
  blockedV4.addSubnet(network, prefix, "ipv4");
}

const blockedV6 = new net.BlockList();
for (const [network, prefix] of [
  ["::", 128], // unspecified
  ["::1", 128], // loopback
  ["::", 96], // IPv4-compatible (deprecated): never a real destination
  ["100::", 64], // discard-only
  ["2001::", 32], // Teredo
  ["2001:db8::", 32], // documentation
  ["fc00::", 7], // unique-local
  ["fe80::", 10], // link-local
  ["fec0::", 10], // site-local (deprecated, still routed by some stacks)
  ["ff00::", 8], // multicast
] as const) {
  blockedV6.addSubnet(network, prefix, "ipv6");
}

/** An IPv6 address as eight 16-bit groups, parsed by the WHATWG URL parser; undefined if not. */
function groupsOf(address: string): number[] | undefined {
  let hostname: string;
  try {
    hostname = new URL(`http://[${address}]/`).hostname;
  } catch {
    return undefined;
  }
  // The URL parser's serialisation: lower-case hex groups, at most one "::", no dotted quad.
  const [head = "", tail] = hostname.slice(1, -1).split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const zeros = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill("0");
  const groups = [...left, ...zeros, ...right].map((group) => Number.parseInt(group, 16));
  return groups.length === 8 && groups.every((g) => g >= 0 && g <= 0xffff) ? groups : undefined;
}

function v4(high: number, low: number): string {
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join(".");
}

/** The IPv4 address an IPv6 address carries by a standard translation, if it carries one. */
function embeddedV4(g: number[]): string | undefined {
  const [g0, g1, g2, g3, g4, g5, g6, g7] = g as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const zeroTo = (end: number) => g.slice(0, end).every((x) => x === 0);
  // ::ffff:a.b.c.d (IPv4-mapped).
  if (zeroTo(5) && g5 === 0xffff) return v4(g6, g7);
  // ::ffff:0:a.b.c.d (IPv4-translated, RFC 2765).
  if (zeroTo(4) && g4 === 0xffff && g5 === 0) return v4(g6, g7);
  // 2002:aabb:ccdd::/48 (6to4).
  if (g0 === 0x2002) return v4(g1, g2);
  // 64:ff9b::/96 (NAT64 well-known prefix, RFC 6052).
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0)
    return v4(g6, g7);
  // 64:ff9b:1::/48 (NAT64 local-use, RFC 8215), laid out as a /48 prefix of RFC 6052: the
  // address's first 16 bits in group 3, bits 64-71 reserved, the last 16 across groups 4-5.
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 1) return v4(g3, ((g4 & 0xff) << 8) | (g5 >> 8));
  return undefined;
}

/**
 * Whether an IP literal is loopback, private, link-local, multicast or reserved, directly or
 * through an IPv6 form that carries an IPv4 address. A host name (not an IP) is not private
 * here: its resolved addresses are checked when it is looked up.
 */
export function isPrivateAddress(address: string): boolean {
  const family = net.isIP(address);
  if (family === 0) return false;
  if (family === 4) return blockedV4.check(address, "ipv4");
  // A zone id (fe80::1%eth0) only has a meaning on a link: never a public destination.
  if (address.includes("%")) return true;
  const groups = groupsOf(address);
  if (groups === undefined) return true;
  const canonical = groups.map((g) => g.toString(16)).join(":");
  if (blockedV6.check(canonical, "ipv6")) return true;
  const carried = embeddedV4(groups);
  return carried !== undefined && blockedV4.check(carried, "ipv4");
}
