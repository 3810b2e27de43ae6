import type { Db } from '../../db/database.ts';
import { type Citizen, type CitizenStore, writeProfile } from '../../identity/citizen-store.ts';
import { type FieldValue, fieldDef, inputName, parseField } from '../../identity/field-catalog.ts';
import { normalizeCpf } from '../../identity/cpf.ts';
import { AppError } from '../../platform/errors.ts';
import type { Translate } from '../../platform/i18n.ts';
import type { CodeMechanism } from '../../methods/code/code-mechanism.ts';
import { passwordMethod } from '../../methods/password/password-method.ts';
import type { VerificationStore } from '../../methods/verifications.ts';
import type { PasswordHasher } from '../../methods/password/password-hasher.ts';
import type { PasswordPolicy } from '../../methods/password/password-policy.ts';
import { normalizePhone } from '../../identity/phone.ts';
import type { IdentifierKey } from '../../identity/identifiers.ts';
import { holdersOf } from '../../identity/unconfirmed.ts';

export type RegistrationForm = {
  cpf: string;
  name: string;
  social_name: string;
  birthdate: string;
  email: string;
  phone_number: string;
  password: string;
};

/** The registration form is a Brazilian citizen's (it asks a CPF): a number without +country is Brazilian. */
const PHONE_COUNTRY = 'BR';

export const REGISTRATION_FIELDS = ['cpf', 'name', 'social_name', 'birthdate', 'email', 'phone_number', 'password'] as const;

export type RegistrationErrors = Partial<Record<keyof RegistrationForm, string>>;

const EMAIL = /^[^\s@<>()[\],;:"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

function validDate(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const d = new Date(`${value}T00:00:00Z`);
  if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== value) return false;
  const year = d.getUTCFullYear();
  return year >= 1900 && d.getTime() <= Date.now();
}

/** Reads the typed values (trimmed, length-capped) from a submitted form. */
export function readRegistrationForm(body: Record<string, unknown>): RegistrationForm {
  const get = (k: string, max = 200) => (typeof body[k] === 'string' ? (body[k] as string) : '').slice(0, max);
  return {
    cpf: get('cpf', 20).trim(),
    name: get('name').trim().replace(/\s+/g, ' '),
    social_name: get('social_name').trim().replace(/\s+/g, ' '),
    birthdate: get('birthdate', 10).trim(),
    email: get('email', 254).trim(),
    phone_number: get('phone_number', 30).trim(),
    password: get('password', 1000),
  };
}

export function createRegistrationFlow(deps: {
  db: Db;
  citizens: CitizenStore;
  hasher: PasswordHasher;
  policy: PasswordPolicy;
  codes: CodeMechanism;
  verifications: VerificationStore;
  /** Removes an unconfirmed account whose CPF or e-mail a new registration takes (the lifecycle's purge). */
  releaseUnconfirmed: (trx: Db, citizenId: string) => Promise<unknown>;
}) {
  const { db, citizens, hasher, policy, codes, verifications } = deps;

  /** The identifiers a registration claims, as the identifier index reads them. */
  const claimed = (cpf: string | null, email: string): IdentifierKey[] => [
    ...(cpf ? [{ kind: 'cpf' as const, value: cpf }] : []),
    ...(email ? [{ kind: 'email' as const, value: email }] : []),
  ];

  async function validate(form: RegistrationForm): Promise<RegistrationErrors> {
    const errors: RegistrationErrors = {};
    const cpf = normalizeCpf(form.cpf);
    if (!form.cpf) errors.cpf = 'register.cpf_required';
    else if (!cpf) errors.cpf = 'register.cpf_invalid';
    if (form.name.length < 3 || !/\p{L}/u.test(form.name) || !form.name.includes(' ')) errors.name = 'register.name_invalid';
    if (form.social_name && form.social_name.length < 2) errors.social_name = 'register.social_name_invalid';
    if (!validDate(form.birthdate)) errors.birthdate = 'register.birthdate_invalid';
    if (!EMAIL.test(form.email) || form.email.length > 254) errors.email = 'register.email_invalid';
    if (form.phone_number && !normalizePhone(form.phone_number, PHONE_COUNTRY)) errors.phone_number = 'register.phone_invalid';
    const problem = policy.check(form.password, {
      cpf,
      name: form.name,
      birthdate: form.birthdate,
      email: form.email,
    });
    if (problem) errors.password = problem;
    // Each identifier that is well formed is checked, so a taken CPF is told at once even while the
    // e-mail still has a typo (and the other way round), not one submission later.
    if (cpf || !errors.email) {
      const taken = await citizens.taken(cpf ?? '', errors.email ? '' : form.email);
      if (taken.cpf || taken.email) {
        // An unconfirmed account whose code has expired does not keep them (issue 10; issue 8 finding 7).
        const blocking = (await holdersOf(db, claimed(cpf, errors.email ? '' : form.email))).filter((h) => !h.releasable);
        if (blocking.some((h) => h.kind === 'cpf')) errors.cpf = 'register.cpf_taken';
        if (blocking.some((h) => h.kind === 'email')) errors.email = 'register.email_taken';
      }
    }
    return errors;
  }

  return {
    validate,
    /**
     * Creates the citizen (e-mail not yet confirmed) and starts the e-mail confirmation, in one
     * transaction: either both exist or neither does.
     */
    async register(
      form: RegistrationForm,
      context: {
        interactionUid: string | null;
        locale: string;
        t: Translate;
        /** The signing-in service's required fields beyond the core ones, asked on the same form. */
        extra?: { fields: string[]; body: Record<string, unknown> };
        /** More writes in the account's creating transaction (what a certificate read for it proves). */
        onCreated?: (trx: Db, citizen: Citizen) => Promise<void>;
      },
    ): Promise<{ ok: true; citizen: Citizen; flowId: string } | { ok: false; errors: RegistrationErrors }> {
      const errors: Record<string, string> = { ...(await validate(form)) };
      const extraValues: Record<string, FieldValue> = {};
      for (const key of context.extra?.fields ?? []) {
        const def = fieldDef(key);
        if (!def) continue;
        if ((REGISTRATION_FIELDS as readonly string[]).includes(key)) {
          // Asked by the core form already; the service only makes it mandatory.
          if (!form[key as keyof RegistrationForm] && !errors[key]) errors[key] = `field.${key}.required`;
          continue;
        }
        const parsed = parseField(def, context.extra!.body);
        if (!parsed.ok) Object.assign(errors, parsed.errors);
        else if (parsed.value === null) {
          errors[def.kind === 'address' ? inputName(key, 'postal_code') : inputName(key)] =
            def.kind === 'address' ? 'field.address.required' : `field.${key}.required`;
        } else extraValues[key] = parsed.value;
      }
      if (Object.keys(errors).length > 0) return { ok: false, errors: errors as RegistrationErrors };
      const passwordHash = await hasher.hash(form.password);
      try {
        return await db.transaction().execute(async (trx) => {
          // Read again inside the transaction: a code sent meanwhile keeps the account.
          for (const holder of await holdersOf(trx, claimed(normalizeCpf(form.cpf), form.email))) {
            if (!holder.releasable) throw new AppError(holder.kind === 'cpf' ? 'identifier.cpf_taken' : 'identifier.email_taken', 409);
            await deps.releaseUnconfirmed(trx, holder.citizenId);
          }
          const citizen = await citizens.create(
            {
              cpf: normalizeCpf(form.cpf)!,
              email: form.email,
              name: form.name,
              socialName: form.social_name || null,
              birthdate: form.birthdate,
              phoneNumber: form.phone_number ? normalizePhone(form.phone_number, PHONE_COUNTRY) : null,
              passwordHash,
              locale: context.locale,
            },
            trx,
          );
          if (Object.keys(extraValues).length) await writeProfile(trx, citizen, extraValues);
          await context.onCreated?.(trx, citizen);
          const issued = await codes.issue(trx, {
            purpose: 'email_confirmation',
            channel: 'email',
            citizenId: citizen.id,
            address: form.email,
            interactionUid: context.interactionUid,
            t: context.t,
            counted: false,
          });
          // Nothing is kept when the address may not receive another code today.
          if (!issued.ok) throw new AppError('email_code.send_limit', 429);
          // The citizen has just chosen the password: in this interaction it counts as typed.
          if (context.interactionUid) {
            await verifications.record({ interactionUid: context.interactionUid, citizenId: citizen.id, method: passwordMethod }, trx);
          }
          return { ok: true as const, citizen, flowId: issued.id };
        });
      } catch (error) {
        // Two submissions racing for the same CPF or e-mail: the second gets the same message.
        if (error instanceof AppError && error.code === 'identifier.cpf_taken') return { ok: false, errors: { cpf: 'register.cpf_taken' } };
        if (error instanceof AppError && error.code === 'identifier.email_taken') return { ok: false, errors: { email: 'register.email_taken' } };
        if (error instanceof AppError && error.code === 'email_code.send_limit') return { ok: false, errors: { email: error.code } };
        throw error;
      }
    },
  };
}

export type RegistrationFlow = ReturnType<typeof createRegistrationFlow>;
