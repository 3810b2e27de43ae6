import type { Secrets } from '../security/secrets.ts';
import { AppError } from '../platform/errors.ts';
import { hashClientSecret, type ServiceStore } from '../services/service-store.ts';
import type { Db } from '../db/database.ts';

export const DEMO_SERVICES = [
  {
    clientId: 'demo-servico',
    name: 'Serviço de demonstração',
    description: 'Um serviço municipal de exemplo, para experimentar a entrada com Cidadela.',
    termsMarkdown:
      '## Termos de uso do Serviço de demonstração\n\n1. Este serviço existe apenas para demonstração.\n2. Ele recebe seu nome, e-mail e data de nascimento para mostrar que a entrada funcionou.\n3. Você pode revogar o acesso a qualquer momento.',
    fields: [
      { key: 'name', required: true, purpose: { 'pt-BR': 'para chamar você pelo nome', en: 'to call you by your name', es: 'para llamarlo por su nombre' } },
      { key: 'email', required: true, purpose: { 'pt-BR': 'para enviar avisos do serviço', en: 'to send you notices of the service', es: 'para enviarle avisos del servicio' } },
      { key: 'birthdate', required: false, purpose: { 'pt-BR': 'para mostrar que dados opcionais podem ser recusados', en: 'to show that optional data can be refused', es: 'para mostrar que los datos opcionales pueden rechazarse' } },
    ],
  },
  {
    clientId: 'demo-segundo',
    name: 'Segundo serviço de demonstração',
    description: 'Outro serviço de exemplo: a mesma conta entra sem digitar a senha de novo.',
    termsMarkdown:
      '## Termos de uso do Segundo serviço\n\nEste segundo serviço também é só uma demonstração da entrada única da cidade.',
    fields: [
      { key: 'name', required: true, purpose: { 'pt-BR': 'para chamar você pelo nome', en: 'to call you by your name', es: 'para llamarlo por su nombre' } },
      { key: 'address', required: false, purpose: { 'pt-BR': 'para mostrar um endereço na demonstração', en: 'to show an address in the demo', es: 'para mostrar una dirección en la demostración' } },
    ],
  },
] as const;

/** The demo relying party's secret: derived from SECRET_KEY, so nothing extra has to be kept. */
export function demoClientSecret(secrets: Secrets, clientId: string): string {
  return secrets.digest('demo-client-secret', clientId);
}

/** Creates or refreshes the two demo services (development only). */
export async function seedDemoServices(deps: { db: Db; services: ServiceStore; secrets: Secrets; publicUrl: string }) {
  for (const demo of DEMO_SERVICES) {
    const base = `${deps.publicUrl}/demo/${demo.clientId}`;
    const settings = {
      name: demo.name,
      description: demo.description,
      redirectUris: [`${base}/callback`],
      postLogoutRedirectUris: [base],
      backchannelLogoutUri: `${base}/backchannel-logout`,
      tokenEndpointAuthMethod: 'client_secret_basic' as const,
      termsMarkdown: demo.termsMarkdown,
      fields: demo.fields.map((f) => ({ ...f, purpose: { ...f.purpose } })),
    };
    if (await deps.services.find(demo.clientId)) await deps.services.update(demo.clientId, settings);
    else await addOrUpdate(deps.services, demo.clientId, settings);
    await deps.db
      .updateTable('services')
      .set({ client_secret_hash: hashClientSecret(demoClientSecret(deps.secrets, demo.clientId)) })
      .where('client_id', '=', demo.clientId)
      .execute();
  }
}

/** Copies starting at once on a new database race to add the service; the ones that lose update it. */
async function addOrUpdate(services: ServiceStore, clientId: string, settings: Record<string, unknown>) {
  try {
    await services.add({ clientId, ...settings });
  } catch (error) {
    if (!(error instanceof AppError && error.code === 'service.exists')) throw error;
    await services.update(clientId, settings);
  }
}
