// The one importer of @peculiar/x509. It looks up its algorithm providers through tsyringe, which
// throws at load time unless the Reflect metadata API exists; importing the polyfill here, before
// the library, keeps that requirement in one place instead of at every entry point.
import 'reflect-metadata';
import { X509Certificate, X509Crl } from '@peculiar/x509';

export * from '@peculiar/x509';

/** Bytes or text as operators and proxies hand them over: DER, PEM, or URL-encoded PEM (nginx's `$ssl_client_escaped_cert`). */
export type CertificateInput = string | Uint8Array;

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

function asText(input: CertificateInput): string | null {
  if (typeof input === 'string') {
    const text = input.trim();
    // PEM has no '%' (base64 and headers), so one means URL encoding ("-----BEGIN%20CERTIFICATE-----%0A...").
    if (/%[0-9A-Fa-f]{2}/.test(text)) {
      try {
        return decodeURIComponent(text);
      } catch {
        return null;
      }
    }
    return text;
  }
  // DER starts with a SEQUENCE tag (0x30); anything else is read as PEM text.
  if (input[0] === 0x30) return null;
  return Buffer.from(input).toString('latin1');
}

/** A copy on its own ArrayBuffer: Node's Buffers share pooled memory the parsers must not see. */
const own = (bytes: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(bytes);

/** Every PEM block of the given label in the text, as DER. */
function pemBlocks(text: string, labels: string[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const m of text.matchAll(PEM_BLOCK)) {
    if (labels.includes(m[1]!)) out.push(Buffer.from(m[2]!.replace(/\s+/g, ''), 'base64'));
  }
  return out;
}

/** All certificates in a DER file or a PEM bundle; throws when there is none or one is malformed. */
export function decodeCertificates(input: CertificateInput): X509Certificate[] {
  const text = asText(input);
  if (text === null) return [new X509Certificate(own(input as Uint8Array))];
  const blocks = pemBlocks(text, ['CERTIFICATE', 'TRUSTED CERTIFICATE']);
  if (blocks.length === 0) throw new Error('no certificate found');
  return blocks.map((der) => new X509Certificate(own(der)));
}

/** One certificate (the first of a bundle); null when the input is not a certificate. */
export function decodeCertificate(input: CertificateInput): X509Certificate | null {
  try {
    return decodeCertificates(input)[0] ?? null;
  } catch {
    return null;
  }
}

/** A CRL from DER or PEM (`X509 CRL` as OpenSSL writes it, or `CRL`); throws when malformed. */
export function decodeCrl(input: CertificateInput): X509Crl {
  const text = asText(input);
  if (text === null) return new X509Crl(own(input as Uint8Array));
  const [der] = pemBlocks(text, ['X509 CRL', 'CRL']);
  if (!der) throw new Error('no CRL found');
  return new X509Crl(own(der));
}
