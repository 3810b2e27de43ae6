import type { FastifyReply, FastifyRequest } from 'fastify';
import { safeEqual } from '../security/secrets.ts';

/** The operator's bearer token check, one for every admin route (constant-time, same answer for any miss). */
export function requireAdminToken(token: string) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const header = request.headers.authorization ?? '';
    const presented = header.startsWith('Bearer ') ? header.slice(7) : '';
    if (!presented || !safeEqual(presented, token)) {
      return reply.status(401).header('www-authenticate', 'Bearer realm="cidadela-admin"').send({ error: 'unauthorized' });
    }
  };
}
