import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { decodeCertificates, type X509Certificate } from './x509.ts';

/**
 * Where a client certificate arrives, for the one route that checks it: the TLS handshake of the
 * certificate listener, or a header set by a proxy that did the handshake (nginx's
 * `$ssl_client_escaped_cert`). The header is believed only from the operator's proxies: anyone
 * else could put any certificate's public bytes in it.
 */

export type PresentedCertificate = {
  source: 'tls' | 'proxy';
  certificate: X509Certificate;
  /** What else the client sent (intermediates): a help to build the chain, never trusted alone. */
  presented: X509Certificate[];
};

export type CertificateSourceResult =
  | { ok: true; value: PresentedCertificate }
  /** none: nothing presented; unreadable: bytes that are not a certificate; untrusted_header: the header from a stranger (ignored). */
  | { ok: false; reason: 'none' | 'unreadable' }
  | { ok: false; reason: 'untrusted_header'; peer: string };

export type ProxySettings = { header: string; trusted: string[] };

/** A matcher for the operator's list: single addresses or CIDR blocks, IPv4 or IPv6. */
export function trustedAddresses(list: string[]): (address: string | undefined) => boolean {
  const blocks = new BlockList();
  for (const entry of list) {
    const [address, bits] = entry.split('/');
    const type = isIPv4(address!) ? 'ipv4' : isIPv6(address!) ? 'ipv6' : null;
    if (!type) throw new Error(`CERT_TRUSTED_PROXIES: "${entry}" is not an address or CIDR block`);
    if (bits === undefined) blocks.addAddress(address!, type);
    else blocks.addSubnet(address!, Number(bits), type);
  }
  return (address) => {
    if (!address) return false;
    // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d.
    const plain = address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
    return blocks.check(plain, isIPv4(plain) ? 'ipv4' : 'ipv6');
  };
}

type RawRequest = { socket: { remoteAddress?: string | undefined } & Partial<Pick<TLSSocket, 'getPeerCertificate' | 'encrypted'>>; headers: Record<string, string | string[] | undefined> };

export function createCertificateSource(proxy: ProxySettings | undefined) {
  const isTrusted = proxy ? trustedAddresses(proxy.trusted) : () => false;

  function fromTls(socket: RawRequest['socket']): CertificateSourceResult | null {
    if (!socket.encrypted || typeof socket.getPeerCertificate !== 'function') return null;
    const peer = socket.getPeerCertificate(true);
    if (!peer || !peer.raw) return null;
    const chain: X509Certificate[] = [];
    const seen = new Set<string>();
    let link: typeof peer | undefined = peer;
    // Node links the chain through issuerCertificate; a self-signed certificate points to itself.
    while (link?.raw && !seen.has(link.fingerprint256) && chain.length < 10) {
      seen.add(link.fingerprint256);
      try {
        chain.push(decodeCertificates(new Uint8Array(link.raw))[0]!);
      } catch {
        return { ok: false, reason: 'unreadable' };
      }
      link = link.issuerCertificate;
    }
    const [certificate, ...presented] = chain;
    if (!certificate) return null;
    return { ok: true, value: { source: 'tls', certificate, presented } };
  }

  return {
    read(raw: RawRequest): CertificateSourceResult {
      const tls = fromTls(raw.socket);
      if (tls) return tls;
      if (!proxy) return { ok: false, reason: 'none' };
      const value = raw.headers[proxy.header];
      if (value === undefined) return { ok: false, reason: 'none' };
      // The socket's own peer, never X-Forwarded-For: the header is as good as whoever connected.
      const peer = raw.socket.remoteAddress;
      if (!isTrusted(peer)) return { ok: false, reason: 'untrusted_header', peer: peer ?? 'unknown' };
      const text = Array.isArray(value) ? value[0] : value;
      // nginx sends an empty value when the browser presented nothing.
      if (!text || text.trim() === '' || text.trim() === '-') return { ok: false, reason: 'none' };
      let certificates: X509Certificate[];
      try {
        if (text.length > 64 * 1024) throw new Error('too long');
        // HAProxy's `%[ssl_c_der,base64]`: the DER in base64, no PEM armour.
        const bare = text.trim();
        certificates = /^[A-Za-z0-9+/]+=*$/.test(bare) && bare.startsWith('MI')
          ? decodeCertificates(new Uint8Array(Buffer.from(bare, 'base64')))
          : decodeCertificates(text);
      } catch {
        return { ok: false, reason: 'unreadable' };
      }
      const [certificate, ...presented] = certificates;
      if (!certificate) return { ok: false, reason: 'unreadable' };
      return { ok: true, value: { source: 'proxy', certificate, presented } };
    },
  };
}

export type CertificateSource = ReturnType<typeof createCertificateSource>;
