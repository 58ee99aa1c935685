/**
 * The key a client's per-IP limits are counted under, from the `CF-Connecting-IP` address only.
 *
 * - IPv4: the address itself.
 * - IPv6: the /64 prefix (`2001:db8:1:2::/64`). One subscriber usually holds a whole /64, so
 *   counting single IPv6 addresses would give an attacker 2^64 fresh budgets.
 * - IPv4-mapped IPv6 (`::ffff:192.0.2.1`): the IPv4 address.
 * - No address (the header is missing, which Cloudflare never does in production): one shared
 *   `unknown` bucket, so a misrouted deployment is limited strictly rather than not at all.
 * - Anything unparsable: the lower-cased text, so it still gets a bucket of its own.
 */
export function clientKey(ip: string | null): string {
  if (!ip) return "unknown";
  const text = ip.trim().toLowerCase();
  if (IPV4.test(text)) return text;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(text);
  if (mapped?.[1]) return mapped[1];
  const groups = ipv6Groups(text);
  return groups ? `${groups.slice(0, 4).join(":")}::/64` : text;
}

/**
 * The client's network, for breadth (the spraying signal counts networks, not addresses): IPv4 /24
 * (`192.0.2.0/24`), IPv6 /48 (`2001:db8:1::/48`), prefixed with the ASN when Cloudflare gave one
 * (`AS64500 192.0.2.0/24`), so many addresses of one network count once.
 */
export function networkKey(ip: string | null, asn: number | null = null): string {
  const key = clientKey(ip);
  const text = ip?.trim().toLowerCase() ?? "";
  let network = key;
  if (IPV4.test(key)) network = `${key.split(".").slice(0, 3).join(".")}.0/24`;
  else {
    const groups = ipv6Groups(text);
    if (groups) network = `${groups.slice(0, 3).join(":")}::/48`;
  }
  return asn === null ? network : `AS${asn} ${network}`;
}

const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;

/** The eight 16-bit groups of an IPv6 address (zone id dropped), or null when it is not one. */
function ipv6Groups(text: string): string[] | null {
  const address = text.split("%")[0] ?? "";
  const halves = address.split("::");
  if (halves.length > 2) return null;
  const parse = (part: string | undefined) => (part ? part.split(":") : []);
  const head = parse(halves[0]);
  const tail = parse(halves[1]);
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...Array<string>(halves.length === 1 ? 0 : missing).fill("0"), ...tail];
  if (!groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return null;
  return groups.map((g) => parseInt(g, 16).toString(16));
}
