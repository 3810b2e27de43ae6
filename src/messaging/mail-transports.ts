import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import type { MailTransport, OutgoingMail } from './message-queue.ts';

export function smtpTransport(url: string, from: string): MailTransport {
  const transporter = nodemailer.createTransport(url);
  return {
    keepsBodies: false,
    async send(mail: OutgoingMail) {
      await transporter.sendMail({ from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html });
    },
  };
}

/** Development: each mail is a file in DATA_DIR/outbox and stays readable at /dev/outbox. */
export function devOutboxTransport(dataDir: string): MailTransport {
  const dir = join(dataDir, 'outbox');
  return {
    keepsBodies: true,
    async send(mail: OutgoingMail) {
      mkdirSync(dir, { recursive: true });
      const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${Math.random().toString(36).slice(2, 8)}.txt`;
      writeFileSync(join(dir, name), `To: ${mail.to}\nSubject: ${mail.subject}\n\n${mail.text}\n`, { mode: 0o600 });
    },
  };
}
