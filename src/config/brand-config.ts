import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { contrastRatio, parseHex, TEXT_CONTRAST } from '../platform/contrast.ts';

/**
 * The city's identity on every page, mail and the account area: its name, logo, colours and footer
 * links. The default look is the federal Padrão Digital de Governo's (gov.br): its blue for actions
 * and links, its dark blue for the header.
 */
export type Brand = {
  name: string;
  /** Path under /marca/ of the logo file in BRAND_DIR, if any. */
  logo: string | undefined;
  /** The folder served at /marca/ (logo, favicon), if any. */
  dir: string | undefined;
  /** Buttons and links (on white; white text on it). */
  primary: string;
  /** The header (white text on it) and hovered buttons. */
  primaryDark: string;
  footerLinks: { label: string; href: string }[];
};

export const DEFAULT_BRAND: Brand = {
  name: 'Cidadela',
  logo: undefined,
  dir: undefined,
  primary: '#1351b4',
  primaryDark: '#071d41',
  footerLinks: [],
};

export class BrandError extends Error {}

type BrandEnv = {
  BRAND_NAME: string;
  BRAND_DIR?: string | undefined;
  BRAND_LOGO?: string | undefined;
  BRAND_PRIMARY: string;
  BRAND_PRIMARY_DARK: string;
  BRAND_FOOTER_LINKS?: string | undefined;
};

/** The brand from its settings; refuses colours a person could not read (WCAG AA, 4.5:1). */
export function brandFromEnv(env: BrandEnv): Brand {
  const problems: string[] = [];
  for (const [key, value] of [
    ['BRAND_PRIMARY', env.BRAND_PRIMARY],
    ['BRAND_PRIMARY_DARK', env.BRAND_PRIMARY_DARK],
  ] as const) {
    if (!parseHex(value)) {
      problems.push(`${key}: "${value}" is not a colour in #rrggbb form`);
      continue;
    }
    // White text on it (buttons, the header) and it on white (links, secondary buttons).
    const ratio = contrastRatio(value, '#ffffff');
    if (ratio < TEXT_CONTRAST) {
      problems.push(
        `${key}: ${value} against white has a contrast of ${ratio.toFixed(2)}:1, below the ${TEXT_CONTRAST}:1 that text needs (WCAG 2.2 AA); choose a darker colour`,
      );
    }
  }
  const dir = env.BRAND_DIR ? resolve(env.BRAND_DIR) : undefined;
  if (dir && !(existsSync(dir) && statSync(dir).isDirectory()))
    problems.push(`BRAND_DIR: ${dir} is not a folder`);
  let logo: string | undefined;
  if (env.BRAND_LOGO) {
    if (!dir) problems.push('BRAND_LOGO needs BRAND_DIR, the folder it is in');
    else if (
      !/^[\w.-]+\.(svg|png|webp|jpe?g)$/i.test(env.BRAND_LOGO) ||
      !existsSync(join(dir, env.BRAND_LOGO))
    ) {
      problems.push(`BRAND_LOGO: ${env.BRAND_LOGO} is not an .svg, .png, .webp or .jpg file in ${dir}`);
    } else logo = env.BRAND_LOGO;
  }
  const footerLinks: Brand['footerLinks'] = [];
  for (const entry of (env.BRAND_FOOTER_LINKS ?? '')
    .split(';')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const i = entry.lastIndexOf('|');
    const label = entry.slice(0, i).trim();
    const href = entry.slice(i + 1).trim();
    if (i <= 0 || !label || !/^https?:\/\/[^\s"<>]+$/.test(href)) {
      problems.push(`BRAND_FOOTER_LINKS: "${entry}" is not "label|https://address"`);
    } else footerLinks.push({ label, href });
  }
  if (problems.length) throw new BrandError(problems.join('\n'));
  return {
    name: env.BRAND_NAME.trim() || DEFAULT_BRAND.name,
    logo,
    dir,
    primary: env.BRAND_PRIMARY.toLowerCase(),
    primaryDark: env.BRAND_PRIMARY_DARK.toLowerCase(),
    footerLinks,
  };
}
