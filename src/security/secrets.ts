import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

/** Keys for each purpose are derived from SECRET_KEY, so one secret serves all and none is reused. */
export type Secrets = {
  seal(plain: string): string;
  open(sealed: string): string;
  /** A keyed digest for values we look up but must not store in clear (codes, identifiers). */
  digest(purpose: string, value: string): string;
  cookieKeys: string[];
};

export function createSecrets(secretKey: string): Secrets {
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', secretKey, 'cidadela', info, 32));
  const sealKey = derive('seal/v1');
  const digestKey = derive('digest/v1');
  return {
    seal(plain) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', sealKey, iv);
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join('.');
    },
    open(sealed) {
      const [version, iv, tag, body] = sealed.split('.');
      if (version !== 'v1' || !iv || !tag || !body) throw new Error('sealed value has an unknown format');
      const decipher = createDecipheriv('aes-256-gcm', sealKey, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
    },
    digest: (purpose, value) => createHmac('sha256', digestKey).update(`${purpose}\0${value}`).digest('base64url'),
    cookieKeys: [derive('cookies/v1').toString('base64url')],
  };
}

export function randomId(bytes = 18): string {
  return randomBytes(bytes).toString('base64url');
}

export function sixDigitCode(): string {
  return String(randomInt(0, 1_000_000)).padStart(6, '0');
}

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
