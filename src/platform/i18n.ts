import { readFileSync } from 'node:fs';

export const LOCALES = ['pt-BR', 'en', 'es'] as const;
export type Locale = (typeof LOCALES)[number];
export const DEFAULT_LOCALE: Locale = 'pt-BR';

const LOCALES_DIR = new URL('../../locales/', import.meta.url);

export type Messages = Record<string, string>;
export type Translate = (key: string, params?: Record<string, string | number>) => string;

export function loadMessages(): Record<Locale, Messages> {
  const out = {} as Record<Locale, Messages>;
  for (const locale of LOCALES) {
    out[locale] = JSON.parse(readFileSync(new URL(`${locale}.json`, LOCALES_DIR), 'utf8'));
  }
  return out;
}

export function createI18n(messages: Record<Locale, Messages> = loadMessages()) {
  return {
    translator(locale: Locale): Translate {
      const table = messages[locale];
      const fallback = messages[DEFAULT_LOCALE];
      return (key, params) => {
        const template = table[key] ?? fallback[key] ?? key;
        if (!params) return template;
        return template.replace(/\{(\w+)\}/g, (m, name: string) => (name in params ? String(params[name]) : m));
      };
    },
    has: (key: string) => key in messages[DEFAULT_LOCALE],
  };
}

export type I18n = ReturnType<typeof createI18n>;

export function isLocale(value: unknown): value is Locale {
  return typeof value === 'string' && (LOCALES as readonly string[]).includes(value);
}

/** Explicit choice (query or cookie), then ui_locales, then Accept-Language, then pt-BR. */
export function negotiateLocale(
  explicit: (string | undefined)[],
  acceptLanguage: string | undefined,
): Locale {
  for (const value of explicit) {
    if (!value) continue;
    for (const candidate of value.split(/[\s,]+/)) {
      const match = matchLocale(candidate);
      if (match) return match;
    }
  }
  if (acceptLanguage) {
    const ranked = acceptLanguage
      .split(',')
      .map((part) => {
        const [tag, ...rest] = part.trim().split(';');
        const q = rest.find((r) => r.trim().startsWith('q='));
        return { tag: tag ?? '', q: q ? Number(q.trim().slice(2)) || 0 : 1 };
      })
      .sort((a, b) => b.q - a.q);
    for (const { tag, q } of ranked) {
      if (q <= 0) continue;
      const match = matchLocale(tag);
      if (match) return match;
    }
  }
  return DEFAULT_LOCALE;
}

function matchLocale(tag: string): Locale | undefined {
  const lower = tag.toLowerCase();
  if (lower.startsWith('pt')) return 'pt-BR';
  if (lower.startsWith('en')) return 'en';
  if (lower.startsWith('es')) return 'es';
  return undefined;
}

/** A time of day as the city's people read it (the city's time zone), in the page's language. */
export function formatClock(date: Date, locale: string): string {
  return new Intl.DateTimeFormat(locale, {
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    timeZone: 'America/Sao_Paulo',
  }).format(date);
}
