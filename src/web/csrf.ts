import { createHmac, randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { safeEqual } from '../security/secrets.ts';

export const CSRF_COOKIE = 'cdl_csrf';

/**
 * Double-submit with a keyed token: a random value in an HttpOnly cookie, and in each form its
 * HMAC. A page on another site can neither read the cookie nor compute the form value.
 */
export function createCsrf(key: string, secure: boolean) {
  const sign = (value: string) => createHmac('sha256', key).update(`csrf\0${value}`).digest('base64url');
  return {
    token(request: FastifyRequest, reply: FastifyReply): string {
      let value = request.cookies[CSRF_COOKIE];
      if (!value || !/^[A-Za-z0-9_-]{22,64}$/.test(value)) {
        value = randomBytes(18).toString('base64url');
        request.cookies[CSRF_COOKIE] = value;
        reply.setCookie(CSRF_COOKIE, value, { path: '/', httpOnly: true, sameSite: 'lax', secure });
      }
      return sign(value);
    },
    valid(request: FastifyRequest): boolean {
      const value = request.cookies[CSRF_COOKIE];
      const sent = (request.body as Record<string, unknown> | undefined)?._csrf;
      return typeof value === 'string' && typeof sent === 'string' && safeEqual(sign(value), sent);
    },
  };
}

export type Csrf = ReturnType<typeof createCsrf>;
