import type { SignInMethod } from '../method.ts';
import type { CertificateLevel } from './icp-brasil.ts';

/**
 * Something the citizen has: an ICP-Brasil e-CPF or e-CNPJ whose key signed the TLS handshake. It
 * reaches `ouro` alone. Its amr depends on where the key lives (RFC 8176): `hwk` for an A3 (token,
 * smart card, HSM), `swk` for an A1 (a file in the computer); `amr` below is the weaker default.
 */
export const certificateMethod: SignInMethod = {
  id: 'certificate',
  factor: 'possession',
  amr: ['swk'],
  assurance: 'ouro',
  // Any citizen with a CPF can present a certificate that names it.
  has: async (citizen) => Boolean(citizen.cpf),
};

/** The amr of one certificate proof, from the level read from its certificatePolicies. */
export function certificateAmr(level: CertificateLevel): string[] {
  return level === 'A3' ? ['hwk'] : ['swk'];
}
