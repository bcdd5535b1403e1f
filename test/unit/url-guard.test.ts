/** The URL guard: which addresses are refused, the URL forms refused, and that the checked address is what a request connects to. */
import { describe, expect, it } from 'vitest';
import { classifyAddress, parseTargetUrl, pinnedLookup, UrlRefusedError, vetUrl } from '../../lib/url-guard.js';

describe('classifyAddress', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['169.254.0.1', 'link-local'],
    ['100.64.0.1', 'cgnat'],
    ['100.127.255.255', 'cgnat'],
    ['0.0.0.0', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fc00::1', 'private'],
    ['fd12:3456:789a::1', 'private'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['::ffff:a9fe:a9fe', 'link-local'],
    ['0:0:0:0:0:ffff:7f00:1', 'loopback'],
    ['64:ff9b::10.0.0.1', 'private'],
    ['2002:a00:1::', 'private'],
    ['not an address', 'reserved'],
  ])('%s is %s', (address, kind) => {
    expect(classifyAddress(address)).toBe(kind);
  });

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '169.253.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '2a00:1450:4001::200e'])(
    '%s is public',
    (address) => {
      expect(classifyAddress(address)).toBe('public');
    },
  );
});

describe('parseTargetUrl', () => {
  it('requires https unless private targets are allowed', () => {
    expect(() => parseTargetUrl('http://example.com/hook', { allowPrivate: false })).toThrow(UrlRefusedError);
    expect(parseTargetUrl('http://example.com/hook', { allowPrivate: true }).hostname).toBe('example.com');
    expect(parseTargetUrl('https://example.com/hook', { allowPrivate: false }).hostname).toBe('example.com');
  });

  it('refuses other schemes, credentials and garbage', () => {
    for (const raw of ['ftp://example.com', 'file:///etc/passwd', 'https://user:pw@example.com/', 'not a url']) {
      expect(() => parseTargetUrl(raw, { allowPrivate: true })).toThrow(UrlRefusedError);
    }
  });
});

describe('vetUrl', () => {
  const resolveTo = (...addresses: string[]) => async () => addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

  it('refuses a host that resolves to a private or metadata address, even among public ones', async () => {
    await expect(vetUrl('https://hook.example/', { allowPrivate: false, resolve: resolveTo('169.254.169.254') })).rejects.toMatchObject({ reason: 'address' });
    await expect(vetUrl('https://hook.example/', { allowPrivate: false, resolve: resolveTo('93.184.216.34', '10.0.0.5') })).rejects.toMatchObject({ reason: 'address' });
    await expect(vetUrl('https://[::ffff:127.0.0.1]/', { allowPrivate: false })).rejects.toMatchObject({ reason: 'address' });
    await expect(vetUrl('https://127.0.0.1:8443/', { allowPrivate: false })).rejects.toMatchObject({ reason: 'address' });
  });

  it('answers the checked address of a public host', async () => {
    const vetted = await vetUrl('https://hook.example/x', { allowPrivate: false, resolve: resolveTo('93.184.216.34') });
    expect(vetted).toMatchObject({ address: '93.184.216.34', family: 4 });
  });

  it('lets private addresses through when allowed', async () => {
    const vetted = await vetUrl('http://127.0.0.1:9/x', { allowPrivate: true });
    expect(vetted.address).toBe('127.0.0.1');
  });

  it('refuses a host that does not resolve', async () => {
    const failing = async () => {
      throw new Error('ENOTFOUND');
    };
    await expect(vetUrl('https://nowhere.invalid/', { allowPrivate: false, resolve: failing })).rejects.toMatchObject({ reason: 'unresolvable' });
  });

  it('pins the connection to the checked address in both lookup forms', () => {
    const lookup = pinnedLookup({ address: '93.184.216.34', family: 4 });
    const answers: unknown[] = [];
    lookup('anything.example', {}, (...args: unknown[]) => answers.push(args));
    lookup('anything.example', { all: true }, (...args: unknown[]) => answers.push(args));
    expect(answers).toEqual([
      [null, '93.184.216.34', 4],
      [null, [{ address: '93.184.216.34', family: 4 }]],
    ]);
  });
});
