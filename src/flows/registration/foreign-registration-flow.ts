import { sql } from 'kysely';
import type { Db } from '../../db/database.ts';
import { type Citizen, type CitizenStore, writeProfile } from '../../identity/citizen-store.ts';
import { type FieldValue, fieldDef, inputName, isTyped, parseField } from '../../identity/field-catalog.ts';
import { takenKinds } from '../../identity/identifiers.ts';
import { checkMobile, phoneCountry } from '../../identity/phone.ts';
import { enqueueSms } from '../../messaging/message-queue.ts';
import type { CodeCheck, CodeMechanism } from '../../methods/code/code-mechanism.ts';
import type { PasswordHasher } from '../../methods/password/password-hasher.ts';
import { passwordMethod } from '../../methods/password/password-method.ts';
import type { PasswordPolicy } from '../../methods/password/password-policy.ts';
import { smsCodeMethod } from '../../methods/sms-code/sms-code.ts';
import type { VerificationStore } from '../../methods/verifications.ts';
import { AppError } from '../../platform/errors.ts';
import { isLocale, type Locale, type Translate } from '../../platform/i18n.ts';
import type { ContractField } from '../../services/service-store.ts';

/**
 * A foreigner's registration (issue 12): no CPF; an international mobile number, proven by an SMS
 * code before the account exists, is how they sign in. The form's values wait with the code (the
 * code mechanism's accountless purpose `phone_registration`); the right code creates the account.
 */

/** Catalog fields the form always asks (beside the number's country, the number and the password). */
export const FOREIGN_CORE_FIELDS = ['name', 'birthdate', 'nationality', 'email', 'locale'] as const;
const OPTIONAL_CORE = new Set(['email']);

export type ForeignForm = {
  /** The number's country (ISO 3166-1 alpha-2), which reads a national form of the number. */
  country: string;
  phone: string;
  password: string;
  /** The catalog inputs as typed (f_name, f_birthdate, ...), to show them again. */
  typed: Record<string, string>;
};

export type ForeignErrors = Record<string, string>;

/** What waits with the code until the number is proven: the account to create. */
type PendingRegistration = {
  values: Record<string, FieldValue>;
  passwordHash: string;
  locale: Locale;
};

export function readForeignForm(body: Record<string, unknown>): ForeignForm {
  const get = (k: string, max: number) =>
    (typeof body[k] === 'string' ? (body[k] as string) : '').slice(0, max);
  const typed: Record<string, string> = {};
  for (const [k, v] of Object.entries(body))
    if (k.startsWith('f_') && typeof v === 'string') typed[k] = v.slice(0, 300);
  return {
    country: get('country', 2).trim(),
    phone: get('phone', 30).trim(),
    password: get('password', 1000),
    typed,
  };
}

/** The fields of the service's contract (as it applies to foreigners) the form asks beside the core. */
export function foreignExtraFields(fields: ContractField[]): string[] {
  return fields
    .filter(
      (f) =>
        f.required &&
        isTyped(f.key) &&
        f.key !== 'phone_number' &&
        !(FOREIGN_CORE_FIELDS as readonly string[]).includes(f.key),
    )
    .map((f) => f.key);
}

export function createForeignRegistrationFlow(deps: {
  db: Db;
  citizens: CitizenStore;
  hasher: PasswordHasher;
  policy: PasswordPolicy;
  codes: CodeMechanism;
  verifications: VerificationStore;
  /** SMS_COUNTRIES: the countries whose numbers may receive an SMS. */
  smsCountries: readonly string[];
  translator: (locale: Locale) => Translate;
}) {
  const { db, citizens, hasher, policy, codes, verifications } = deps;

  /** Every error at once, keyed by input name; the values to keep when there is none. */
  async function validate(form: ForeignForm, extra: string[]) {
    const errors: ForeignErrors = {};
    const country = phoneCountry(form.country);
    let e164: string | null = null;
    if (!form.phone) errors.phone = 'foreign.phone_required';
    else {
      const checked = checkMobile(form.phone, country, deps.smsCountries);
      if (checked.ok) e164 = checked.e164;
      else errors.phone = `foreign.phone_${checked.reason}`;
    }
    const values: Record<string, FieldValue> = {};
    for (const key of [...FOREIGN_CORE_FIELDS, ...extra]) {
      const def = fieldDef(key);
      if (!def) continue;
      const parsed = parseField(def, form.typed);
      if (!parsed.ok) Object.assign(errors, parsed.errors);
      else if (parsed.value === null) {
        if (!OPTIONAL_CORE.has(key)) {
          errors[def.kind === 'address' ? inputName(key, 'postal_code') : inputName(key)] =
            def.kind === 'address' ? 'field.address.required' : `field.${key}.required`;
        }
      } else values[key] = parsed.value;
    }
    if (typeof values.email === 'string' && (await citizens.taken(null, values.email)).email) {
      errors[inputName('email')] = 'register.email_taken';
    }
    const problem = policy.check(form.password, {
      cpf: null,
      name: typeof values.name === 'string' ? values.name : '',
      birthdate: typeof values.birthdate === 'string' ? values.birthdate : null,
      email: typeof values.email === 'string' ? values.email : '',
    });
    if (problem) errors.password = problem;
    return { errors, values, e164 };
  }

  return {
    /**
     * Checks the form and sends the code to the number, refusing before any SMS a number that cannot
     * or may not receive one. A number another account has proven gets the same answer as a new
     * one (a code page); no code goes to it, and its owner is told by SMS, in their language.
     */
    async start(
      form: ForeignForm,
      context: { interactionUid: string; extraFields: string[] },
    ): Promise<{ ok: true; flowId: string } | { ok: false; errors: ForeignErrors; retryAt?: Date }> {
      const { errors, values, e164 } = await validate(form, context.extraFields);
      if (Object.keys(errors).length > 0 || !e164) return { ok: false, errors };
      const locale = isLocale(values.locale) ? values.locale : 'en';
      const pending: PendingRegistration = { values, passwordHash: await hasher.hash(form.password), locale };
      const owner = await citizens.findByIdentifier(e164);
      return db.transaction().execute(async (trx) => {
        const taken =
          owner !== undefined || (await takenKinds(trx, [{ kind: 'phone', value: e164 }])).has('phone');
        const issued = await codes.issue(trx, {
          purpose: 'phone_registration',
          channel: 'sms',
          citizenId: null,
          address: e164,
          interactionUid: context.interactionUid,
          t: deps.translator(locale),
          // The number is somebody's: the code page is shown all the same, but nothing it is
          // typed there proves anything, and what the form held is not kept.
          ...(taken ? { inert: true } : { data: { registration: pending } }),
        });
        if (!issued.ok && issued.code === 'code.country_disabled')
          return { ok: false as const, errors: { phone: 'foreign.phone_country_disabled' } };
        if (!issued.ok)
          return { ok: false as const, errors: { phone: 'sms.limited' }, retryAt: issued.retryAt };
        if (taken) {
          const ownerLocale = isLocale(owner?.locale) ? owner.locale : 'pt-BR';
          await enqueueSms(trx, {
            to: e164,
            text: deps.translator(ownerLocale)('sms.phone_registration_attempt'),
          });
        }
        return { ok: true as const, flowId: issued.id };
      });
    },

    /**
     * The code typed for the number: the right one creates the account (its number proven, its
     * password set) and records both proofs for the interaction, in one transaction.
     */
    async confirm(input: {
      flowId: string;
      typed: string;
      interactionUid: string;
    }): Promise<
      | { ok: true; citizen: Citizen; locale: Locale }
      | { ok: false; check: Exclude<CodeCheck, { ok: true }> }
      | { ok: false; code: 'foreign.phone_unavailable' }
    > {
      try {
        return await db.transaction().execute(async (trx) => {
          const checked = await codes.check(
            { id: input.flowId, purpose: 'phone_registration', typed: input.typed },
            trx,
          );
          if (!checked.ok) return { ok: false as const, check: checked };
          const pending = checked.proof.data?.registration as PendingRegistration | undefined;
          // An inert code cannot be right; a flow without its form was not this one's.
          if (!pending)
            return { ok: false as const, check: { ok: false as const, code: 'code.unknown' as const } };
          const { name, birthdate, email, locale: _l, ...rest } = pending.values;
          const citizen = await citizens.create(
            {
              cpf: null,
              email: typeof email === 'string' ? email : null,
              name: String(name),
              socialName: null,
              birthdate: String(birthdate),
              phoneNumber: checked.proof.address,
              passwordHash: pending.passwordHash,
              locale: pending.locale,
            },
            trx,
          );
          if (Object.keys(rest).length) await writeProfile(trx, citizen, rest);
          const marked = await citizens.markPhoneVerified(citizen.id, checked.proof.address, trx);
          if (marked === 'taken') throw new AppError('identifier.phone_taken', 409);
          // The form's values (a password hash among them) are the account's now, not the code's.
          await trx
            .updateTable('flows')
            .set({ data: '{}', updated_at: sql<Date>`now()` })
            .where('id', '=', input.flowId)
            .execute();
          await verifications.record(
            { interactionUid: input.interactionUid, citizenId: citizen.id, method: passwordMethod },
            trx,
          );
          await verifications.record(
            {
              interactionUid: input.interactionUid,
              citizenId: citizen.id,
              method: smsCodeMethod,
              purpose: 'address',
            },
            trx,
          );
          return {
            ok: true as const,
            citizen: (await citizens.findById(citizen.id, trx))!,
            locale: pending.locale,
          };
        });
      } catch (error) {
        // Another account proved the number (or took the e-mail) between the form and the code.
        if (error instanceof AppError && error.code.startsWith('identifier.'))
          return { ok: false, code: 'foreign.phone_unavailable' };
        throw error;
      }
    },
  };
}

export type ForeignRegistrationFlow = ReturnType<typeof createForeignRegistrationFlow>;
