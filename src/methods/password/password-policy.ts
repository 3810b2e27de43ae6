import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import * as common from '@zxcvbn-ts/language-common';
import * as ptBr from '@zxcvbn-ts/language-pt-br';

export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 128;

export type PasswordProblem =
  | 'password.too_short'
  | 'password.too_long'
  | 'password.common'
  | 'password.personal'
  | 'password.weak';

export type PasswordContext = { cpf?: string | null; name?: string; birthdate?: string | null; email?: string };

export type PasswordPolicy = {
  check(password: string, context: PasswordContext): PasswordProblem | null;
  /** 0..4, for the strength hint shown while typing. */
  score(password: string, context: PasswordContext): number;
};

/**
 * NIST 800-63B: length, no composition rules, refuse what attackers try first (dictionaries and
 * the citizen's own data). zxcvbn scores below 3 count as guessable.
 */
export function createPasswordPolicy(): PasswordPolicy {
  const zxcvbn = new ZxcvbnFactory({
    dictionary: { ...common.dictionary, ...ptBr.dictionary },
    graphs: common.adjacencyGraphs,
    translations: ptBr.translations,
  });
  const personal = (ctx: PasswordContext): string[] => {
    const parts: string[] = [];
    if (ctx.cpf) parts.push(ctx.cpf, ctx.cpf.slice(0, 9), ctx.cpf.slice(0, 6));
    if (ctx.name) parts.push(...ctx.name.toLowerCase().split(/\s+/).filter((p) => p.length >= 3));
    if (ctx.birthdate) {
      const [y, m, d] = ctx.birthdate.split('-');
      if (y && m && d) parts.push(`${d}${m}${y}`, `${y}${m}${d}`, `${d}${m}${y.slice(2)}`, y);
    }
    if (ctx.email) parts.push(...ctx.email.toLowerCase().split(/[@.+_-]/).filter((p) => p.length >= 3));
    return parts;
  };
  const fold = (s: string) =>
    s
      .normalize('NFD')
      .replace(/\p{Diacritic}/gu, '')
      .toLowerCase();
  return {
    check(password, ctx) {
      const length = [...password].length;
      if (length < PASSWORD_MIN) return 'password.too_short';
      if (length > PASSWORD_MAX) return 'password.too_long';
      const folded = fold(password);
      const digits = password.replace(/\D/g, '');
      const mine = personal(ctx).map(fold);
      // "Built from" own data: what is left after removing it is too little to matter. Separators
      // do not count as what is left: "maria.1990!" and "14/07/1990maria" are still own data.
      const bare = (s: string) => s.replace(/[^\p{L}\p{N}]/gu, '');
      let rest = bare(folded);
      const letters = rest.length;
      for (const p of mine.map(bare).filter(Boolean).sort((a, b) => b.length - a.length)) rest = rest.split(p).join('');
      if (rest.length < 4 && rest.length < letters) return 'password.personal';
      if (ctx.cpf && digits.length >= 6 && ctx.cpf.includes(digits) && digits.length >= folded.length - 3) {
        return 'password.personal';
      }
      const result = zxcvbn.check(password, mine);
      if (result.score < 3) {
        const dictionaryHit = result.sequence.some(
          (m) => m.pattern === 'dictionary' && m.token.length >= folded.length - 2,
        );
        return dictionaryHit ? 'password.common' : 'password.weak';
      }
      return null;
    },
    score: (password, ctx) => zxcvbn.check(password.slice(0, PASSWORD_MAX), personal(ctx)).score,
  };
}
