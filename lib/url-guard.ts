/**
 * Which URLs the service may call on a client's behalf (webhook deliveries, media fetched by URL): `https://` only,
 * and never an address inside the service's own network (loopback, private, link-local with the cloud metadata
 * address, carrier-grade NAT, unspecified, multicast, reserved, and IPv6 forms that embed one of those), unless
 * private targets are allowed (local stacks and tests: then `http://` and any address pass).
 *
 * The host name is resolved here, every address it has is checked, and the caller connects to the address that was
 * checked (`pinnedLookup`), not to whatever a second resolution would answer: DNS cannot be changed between the
 * check and the connection (no TOCTOU, no DNS rebinding).
 */
import { promises as dns, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';

export type AddressClass =
  | 'public'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'cgnat'
  | 'unspecified'
  | 'multicast'
  | 'reserved';

export interface UrlGuardOptions {
  /** `http://` and private, loopback and link-local addresses too (WEBHOOK_ALLOW_PRIVATE=true). */
  allowPrivate: boolean;
  /** Resolves every address of a host name (default: `dns.promises.lookup(host, {all: true})`). */
  resolve?: (hostname: string) => Promise<LookupAddress[]>;
}

/** A URL the service refuses to call; `reason` says why in words a client can act on. */
export class UrlRefusedError extends Error {
  override readonly name = 'UrlRefusedError';
  constructor(
    message: string,
    readonly reason: 'invalid' | 'protocol' | 'unresolvable' | 'address',
  ) {
    super(message);
  }
}

export interface VettedUrl {
  url: URL;
  /** The checked address to connect to, and its family. */
  address: string;
  family: 4 | 6;
}

/** Parses and checks the URL's form (no DNS): a URL with credentials, or not `https:` where that is required, is refused. */
export function parseTargetUrl(raw: string, options: Pick<UrlGuardOptions, 'allowPrivate'>): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UrlRefusedError('not a valid URL', 'invalid');
  }
  const allowed = options.allowPrivate ? ['https:', 'http:'] : ['https:'];
  if (!allowed.includes(url.protocol)) {
    throw new UrlRefusedError(options.allowPrivate ? 'must be an http(s) URL' : 'must be an https:// URL', 'protocol');
  }
  if (url.username !== '' || url.password !== '') throw new UrlRefusedError('must not carry credentials', 'invalid');
  if (url.hostname === '') throw new UrlRefusedError('has no host', 'invalid');
  return url;
}

/**
 * Parses, resolves and checks a URL; answers the address to connect to. Throws `UrlRefusedError` when the URL is
 * malformed, not https where required, does not resolve, or any of its addresses is not public (one private
 * address among public ones is refused too: which one a connection would take is not ours to pick).
 */
export async function vetUrl(raw: string, options: UrlGuardOptions): Promise<VettedUrl> {
  const url = parseTargetUrl(raw, options);
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  let addresses: LookupAddress[];
  const literal = isIP(host);
  if (literal !== 0) {
    addresses = [{ address: host, family: literal }];
  } else {
    try {
      addresses = await (options.resolve ?? ((name) => dns.lookup(name, { all: true, verbatim: true })))(host);
    } catch (error) {
      throw new UrlRefusedError(`host ${host} does not resolve (${error instanceof Error ? error.message : String(error)})`, 'unresolvable');
    }
  }
  const first = addresses[0];
  if (first === undefined) throw new UrlRefusedError(`host ${host} has no address`, 'unresolvable');
  if (!options.allowPrivate) {
    for (const { address } of addresses) {
      const kind = classifyAddress(address);
      if (kind !== 'public') {
        throw new UrlRefusedError(`${host} resolves to ${address}, a ${kind} address the service does not call`, 'address');
      }
    }
  }
  return { url, address: first.address, family: first.family === 6 ? 6 : 4 };
}

/** A `lookup` for http(s).request that answers the vetted address whatever it is asked, in both call forms. */
export function pinnedLookup(vetted: Pick<VettedUrl, 'address' | 'family'>): LookupFunction {
  return ((_hostname: string, options: { all?: boolean } | number | undefined, callback: (...args: unknown[]) => void) => {
    const all = typeof options === 'object' && options !== null && options.all === true;
    if (all) callback(null, [{ address: vetted.address, family: vetted.family }]);
    else callback(null, vetted.address, vetted.family);
  }) as LookupFunction;
}

/** The class of an IP address (v4 or v6 text); anything that does not parse counts as `reserved`. */
export function classifyAddress(address: string): AddressClass {
  const version = isIP(address);
  if (version === 4) return classifyV4(parseV4(address));
  if (version === 6) {
    const bytes = parseV6(address);
    return bytes === null ? 'reserved' : classifyV6(bytes);
  }
  return 'reserved';
}

function parseV4(address: string): number {
  return address.split('.').reduce((value, part) => value * 256 + Number(part), 0);
}

/** [network, prefix length, class] of IPv4, most specific first where they overlap. */
const v4Ranges: Array<[string, number, AddressClass]> = [
  ['0.0.0.0', 8, 'unspecified'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'cgnat'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'reserved'],
  ['192.0.2.0', 24, 'reserved'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'reserved'],
  ['198.51.100.0', 24, 'reserved'],
  ['203.0.113.0', 24, 'reserved'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'],
];
const v4Parsed = v4Ranges.map(([network, bits, kind]) => ({ network: parseV4(network), bits, kind }));

function classifyV4(value: number): AddressClass {
  for (const { network, bits, kind } of v4Parsed) {
    const size = 2 ** (32 - bits);
    if (Math.floor(value / size) === Math.floor(network / size)) return kind;
  }
  return 'public';
}

/** 16 bytes of an IPv6 address (with `::` and a dotted IPv4 tail), or null. A zone (`%eth0`) is dropped. */
function parseV6(text: string): number[] | null {
  // A dotted IPv4 tail (`::ffff:10.0.0.1`) becomes its two hex words (`::ffff:a00:1`).
  const address = (text.split('%')[0] ?? '').replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_, a: string, b: string, c: string, d: string) =>
    `${(Number(a) * 256 + Number(b)).toString(16)}:${(Number(c) * 256 + Number(d)).toString(16)}`,
  );
  const halves = address.split('::');
  if (halves.length > 2) return null;
  const words = (part: string | undefined) => (part === undefined || part === '' ? [] : part.split(':').map((word) => (/^[0-9a-f]{1,4}$/i.test(word) ? parseInt(word, 16) : -1)));
  const head = words(halves[0]);
  const rest = halves.length === 2 ? words(halves[1]) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 0) return null;
  const all = [...head, ...Array<number>(halves.length === 2 ? missing : 0).fill(0), ...rest];
  if (all.length !== 8 || all.some((word) => word < 0 || word > 0xffff)) return null;
  return all.flatMap((word) => [word >> 8, word & 0xff]);
}

function classifyV6(bytes: number[]): AddressClass {
  const byte = (index: number) => bytes[index] ?? 0;
  const zeroUpTo = (end: number) => bytes.slice(0, end).every((value) => value === 0);
  const embeddedV4 = () => ((byte(12) * 256 + byte(13)) * 256 + byte(14)) * 256 + byte(15);
  if (zeroUpTo(16)) return 'unspecified';
  if (zeroUpTo(15) && byte(15) === 1) return 'loopback';
  // IPv4-mapped (::ffff:a.b.c.d) and the deprecated IPv4-compatible (::a.b.c.d): the IPv4 address decides.
  if (zeroUpTo(10) && byte(10) === 0xff && byte(11) === 0xff) return classifyV4(embeddedV4());
  if (zeroUpTo(12)) return classifyV4(embeddedV4());
  // NAT64 (64:ff9b::/96) reaches the embedded IPv4 address.
  if (byte(0) === 0x00 && byte(1) === 0x64 && byte(2) === 0xff && byte(3) === 0x9b && bytes.slice(4, 12).every((value) => value === 0)) {
    return classifyV4(embeddedV4());
  }
  // 6to4 (2002::/16) embeds an IPv4 address in bytes 2..5.
  if (byte(0) === 0x20 && byte(1) === 0x02) {
    const v4 = ((byte(2) * 256 + byte(3)) * 256 + byte(4)) * 256 + byte(5);
    const kind = classifyV4(v4);
    if (kind !== 'public') return kind;
  }
  if ((byte(0) & 0xfe) === 0xfc) return 'private'; // fc00::/7 unique local
  if (byte(0) === 0xfe && (byte(1) & 0xc0) === 0x80) return 'link-local'; // fe80::/10
  if (byte(0) === 0xfe && (byte(1) & 0xc0) === 0xc0) return 'private'; // fec0::/10 site-local (deprecated)
  if (byte(0) === 0xff) return 'multicast';
  if (byte(0) === 0x20 && byte(1) === 0x01 && byte(2) === 0x0d && byte(3) === 0xb8) return 'reserved'; // 2001:db8::/32 documentation
  if (byte(0) === 0x01 && zeroUpTo(8)) return 'reserved'; // 100::/64 discard
  return 'public';
}
