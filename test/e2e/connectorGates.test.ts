import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { textReply, toolUseReply } from '../helpers/fakeClaude.js';
import { APPROVER, startHarness, type Harness } from '../helpers/testApp.js';

const GRAPH = 'https://graph.facebook.test';
const HUBSPOT = 'https://hubspot.test';
const PIPELINE = {
  id: 'default',
  label: 'Sales Pipeline',
  displayOrder: 0,
  stages: [
    { id: 'qualifiedtobuy', label: 'Qualified', displayOrder: 1, metadata: { isClosed: 'false' }, archived: false },
    { id: 'closedwon', label: 'Closed won', displayOrder: 2, metadata: { isClosed: 'true' }, archived: false },
  ],
};
const DEAL = {
  id: '401',
  properties: { dealname: 'Acme renewal', dealstage: 'qualifiedtobuy', amount: '12000', pipeline: 'default', closedate: '2026-12-01T00:00:00Z', hs_object_id: '401' },
  archived: false,
  associations: { contacts: { results: [] } },
};

/** The hard-floor connectors, through the whole app: nothing reaches the outside API before Approve. */
describe('WhatsApp and HubSpot behind the approval gate', () => {
  let h: Harness;
  beforeAll(() => {
    nock.disableNetConnect();
    nock.enableNetConnect('127.0.0.1');
  });
  afterEach(async () => {
    await h.close();
    nock.cleanAll();
  });
  afterAll(() => nock.enableNetConnect());

  const env = { WHATSAPP_TOKEN: 'EAAJtest', WHATSAPP_PHONE_NUMBER_ID: '1234567890', WHATSAPP_API_URL: `${GRAPH}/v21.0`, HUBSPOT_TOKEN: 'pat-test', HUBSPOT_API_URL: HUBSPOT, ADMIN_USER_IDS: 'U0ADMIN' };

  it('send_whatsapp waits for a card showing the number and exact text; the Graph API is called once, on Approve', async () => {
    h = await startHarness({ env });
    expect((await h.command('trust send_whatsapp full_auto', { userId: 'U0ADMIN' })).json.text).toContain('always requires approval');
    let sent: unknown;
    const scope = nock(GRAPH)
      .post('/v21.0/1234567890/messages', (b) => ((sent = b), true))
      .reply(200, { messaging_product: 'whatsapp', contacts: [{ input: '15551234567', wa_id: '15551234567' }], messages: [{ id: 'wamid.X1' }] });
    h.claude.enqueue(toolUseReply([{ name: 'send_whatsapp', input: { to: '+15551234567', body: 'Your order shipped today.' } }]), textReply('Sent.'));
    await h.command('run tell the customer their order shipped');
    const [card] = await h.waitForCards(1);
    const blocks = JSON.stringify(card!.message.blocks);
    expect(blocks).toContain('+15551234567');
    expect(blocks).toContain('Your order shipped today.');
    expect(scope.isDone()).toBe(false);
    await h.click(card!, 'approve', APPROVER);
    await h.waitForRun((r) => r.status === 'completed');
    expect(scope.isDone()).toBe(true);
    expect(sent).toMatchObject({ messaging_product: 'whatsapp', to: '15551234567', type: 'text', text: { body: 'Your order shipped today.' } });
  });

  it('update_deal_stage: the card shows the deal, its current and new stage; the PATCH happens only on Approve', async () => {
    h = await startHarness({ env });
    nock(HUBSPOT).get('/crm/v3/objects/deals/401').query(true).reply(200, DEAL).get('/crm/v3/pipelines/deals/default').reply(200, PIPELINE);
    let patched: unknown;
    const patch = nock(HUBSPOT)
      .patch('/crm/v3/objects/deals/401', (b) => ((patched = b), true))
      .reply(200, { id: '401', properties: { dealstage: 'closedwon' } });
    h.claude.enqueue(toolUseReply([{ name: 'update_deal_stage', input: { deal_id: '401', stage: 'Closed won' } }]), textReply('Moved.'));
    await h.command('run mark the Acme renewal as won');
    const [card] = await h.waitForCards(1);
    const blocks = JSON.stringify(card!.message.blocks);
    expect(blocks).toContain('Move deal \\"Acme renewal\\" from \\"Qualified\\" to \\"Closed won\\"');
    expect(patch.isDone()).toBe(false);
    await h.click(card!, 'approve', APPROVER);
    await h.waitForRun((r) => r.status === 'completed');
    expect(patch.isDone()).toBe(true);
    expect(patched).toEqual({ properties: { dealstage: 'closedwon' } });
  });

  it('/agent status lists the configured connectors; without config the tools are not offered', async () => {
    h = await startHarness();
    const status = JSON.stringify((await h.command('status')).json);
    expect(status).toContain('`send_whatsapp` (WHATSAPP_TOKEN and WHATSAPP_PHONE_NUMBER_ID are not set)');
    expect(status).toContain('`crm_search` (HUBSPOT_TOKEN is not set)');
    h.claude.enqueue(textReply('hi'));
    await h.command('run hello');
    await h.waitForRun((r) => r.status === 'completed');
    const tools = (h.claude.requests[0]!.body.tools as Array<{ name: string }>).map((t) => t.name);
    expect(tools).not.toContain('send_whatsapp');
    expect(tools).not.toContain('update_deal_stage');
    expect(tools).toContain('send_email');
  });
});
