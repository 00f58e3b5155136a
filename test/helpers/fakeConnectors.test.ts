import { afterEach, describe, expect, it } from 'vitest';
import { createHubSpotClient } from '../../src/connectors/hubspot.js';
import { createWhatsAppClient } from '../../src/connectors/whatsapp.js';
import { startFakeHubSpot, type FakeHubSpot } from './fakeHubSpot.js';
import { startFakeWhatsApp, type FakeWhatsApp } from './fakeWhatsApp.js';

/** The loopback fakes answer the real connectors the way HubSpot and WhatsApp do, errors included. */
describe('fake HubSpot and WhatsApp, driven by the real connectors', () => {
  let hubspot: FakeHubSpot | undefined;
  let whatsapp: FakeWhatsApp | undefined;
  afterEach(async () => {
    await hubspot?.close();
    await whatsapp?.close();
    hubspot = whatsapp = undefined;
  });

  const codeOf = (p: Promise<unknown>) => p.then(() => 'ok', (err: { code?: string }) => err.code);

  it("HubSpot: pipelines and deals; a wrong token, an unknown deal, a stage outside the pipeline, the rate limit and an outage", async () => {
    hubspot = await startFakeHubSpot({ deals: [{ id: '401', dealname: 'Acme renewal', pipeline: 'default', dealstage: 'qualifiedtobuy' }], requestsPerTenSeconds: 6, now: () => 0 });
    const client = createHubSpotClient({ token: hubspot.token, apiUrl: hubspot.url, maxRetries: 0 });
    const list = (await (await fetch(`${hubspot.url}/crm/v3/pipelines/deals`, { headers: { authorization: `Bearer ${hubspot.token}` } })).json()) as { results: Array<{ id: string; stages: unknown[] }> };
    expect(list.results.map((p) => [p.id, p.stages.length])).toEqual([['default', 6]]);
    const deal = await client.getDeal('401', { contacts: false });
    expect([deal.stageId, deal.stageLabel, deal.stages.map((s) => s.id)]).toEqual(['qualifiedtobuy', 'Qualified to buy', ['appointmentscheduled', 'qualifiedtobuy', 'contractsent', 'closedwon', 'closedlost']]);
    expect(await codeOf(createHubSpotClient({ token: 'pat-wrong', apiUrl: hubspot.url }).getDeal('401'))).toBe('hubspot_auth_failed');
    expect(await codeOf(client.getDeal('999'))).toBe('hubspot_not_found');
    expect(await codeOf(client.updateDealStage('401', 'oldstage'))).toBe('hubspot_validation_error');
    expect(await client.updateDealStage('401', 'closedwon')).toEqual({ id: '401', stageId: 'closedwon' });
    hubspot.failNext('GET /crm/v3/pipelines/deals/default', 503);
    expect(await codeOf(client.pipelineStages('default'))).toBe('hubspot_unavailable');
    // Six requests per ten seconds (the fake's clock stands still; refused ones do not count): the next is limited.
    expect(await codeOf(client.pipelineStages('default'))).toBe('hubspot_rate_limited');
  });

  it('WhatsApp: a text is accepted once with a message id; a bad token, a number not on WhatsApp and an over-long text are refused', async () => {
    whatsapp = await startFakeWhatsApp();
    const client = createWhatsAppClient({ token: whatsapp.token, phoneNumberId: whatsapp.phoneNumberId, apiUrl: whatsapp.apiUrl });
    const sent = await client.sendText('+15551234567', 'Hello');
    expect(whatsapp.sent).toEqual([{ to: '15551234567', body: 'Hello', id: sent.messageId }]);
    expect(await codeOf(createWhatsAppClient({ token: 'EAAJwrong', phoneNumberId: whatsapp.phoneNumberId, apiUrl: whatsapp.apiUrl }).sendText('+15551234567', 'x'))).toBe('whatsapp_auth_failed');
    whatsapp.notOnWhatsApp.add('15550000000');
    expect(await codeOf(client.sendText('+15550000000', 'x'))).toBe('whatsapp_invalid_recipient');
    expect(await codeOf(client.sendText('+15551234567', 'x'.repeat(4097)))).toBe('whatsapp_invalid_parameter');
    expect(whatsapp.sent).toHaveLength(1);
  });
});
