import { afterEach, describe, expect, it } from 'vitest';
import { textReply, toolUseReply } from '../helpers/fakeClaude.js';
import { startFakeHubSpot, type FakeHubSpot } from '../helpers/fakeHubSpot.js';
import { startFakeWhatsApp, type FakeWhatsApp } from '../helpers/fakeWhatsApp.js';
import { viewSubmission } from '../helpers/slackRequests.js';
import { APPROVER, SIGNING_SECRET, startHarness, waitUntil, type Harness } from '../helpers/testApp.js';

type Card = Awaited<ReturnType<Harness['waitForCards']>>[number];
interface ViewBlock {
  type: string;
  block_id?: string;
  elements?: Array<{ text?: string }>;
  element?: { type: string; initial_value?: string; options?: Array<{ text: { text: string }; value: string }>; initial_option?: { value: string } };
}

/** Opens the card's Edit dialog as the approver; `submit` sends it back with some fields set (text or a picked option). */
async function openEdit(h: Harness, card: Card) {
  const before = h.slack.callsTo('views.open').length;
  await h.click(card, 'edit', APPROVER);
  await waitUntil(() => h.slack.callsTo('views.open').length > before, 'the edit dialog');
  const view = h.slack.callsTo('views.open').at(-1)!['view'] as { callback_id: string; private_metadata: string; blocks: ViewBlock[] };
  const inputs = view.blocks.filter((b) => b.type === 'input');
  const state = (set: Record<string, string>) =>
    Object.fromEntries(
      inputs.map((b) => {
        const el = b.element!;
        if (el.type === 'static_select') {
          const value = set[b.block_id!] ?? el.initial_option?.value;
          const option = el.options!.find((o) => o.value === value);
          return [b.block_id!, { value: { type: 'static_select', selected_option: option ? { text: { type: 'plain_text', text: option.text.text, emoji: true }, value: option.value } : null } }];
        }
        return [b.block_id!, { value: { type: 'plain_text_input', value: set[b.block_id!] ?? el.initial_value ?? '' } }];
      }),
    );
  const submit = (set: Record<string, string> = {}) =>
    viewSubmission(h.baseUrl, SIGNING_SECRET, { callbackId: view.callback_id, privateMetadata: view.private_metadata, values: state(set), userId: APPROVER });
  return { view, inputs, submit };
}

const action = (h: Harness, id: string) => h.app.db.selectFrom('actions').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const modelResult = (h: Harness) => JSON.stringify(h.claude.requests.filter((r) => !r.rejected)[1]!.body.messages.at(-1));

describe('Edit & approve of the connectors: WhatsApp and HubSpot', () => {
  let h: Harness;
  let hubspot: FakeHubSpot | undefined;
  let whatsapp: FakeWhatsApp | undefined;
  afterEach(async () => {
    await h.close();
    await hubspot?.close();
    await whatsapp?.close();
    hubspot = undefined;
    whatsapp = undefined;
  });

  async function withHubSpot(): Promise<Card> {
    hubspot = await startFakeHubSpot({ deals: [{ id: '401', dealname: 'Acme renewal', pipeline: 'default', dealstage: 'qualifiedtobuy', amount: '12000' }] });
    h = await startHarness({ env: { HUBSPOT_TOKEN: hubspot.token, HUBSPOT_API_URL: hubspot.url } });
    h.claude.enqueue(toolUseReply([{ name: 'update_deal_stage', input: { deal_id: '401', stage: 'Closed won' } }]), textReply('Moved.'));
    await h.command('run mark the Acme renewal as won');
    const [card] = await h.waitForCards(1);
    return card!;
  }

  it('WhatsApp: an empty message is refused inline; the edited text is what WhatsApp receives, exactly once', async () => {
    whatsapp = await startFakeWhatsApp();
    h = await startHarness({ env: { WHATSAPP_TOKEN: whatsapp.token, WHATSAPP_PHONE_NUMBER_ID: whatsapp.phoneNumberId, WHATSAPP_API_URL: whatsapp.apiUrl } });
    h.claude.enqueue(toolUseReply([{ name: 'send_whatsapp', input: { to: '+15551234567', body: 'Your order shiped today.' } }]), textReply('Sent.'));
    await h.command('run tell the customer their order shipped');
    const [card] = await h.waitForCards(1);
    const { inputs, submit } = await openEdit(h, card!);
    expect(inputs.map((b) => [b.block_id, b.element?.initial_value])).toEqual([['body', 'Your order shiped today.']]);

    const bad = await submit({ body: '   ' });
    expect(bad.json.response_action).toBe('errors');
    expect(bad.json.errors).toEqual({ body: 'The message text is only whitespace' });
    expect((await action(h, card!.actionId)).status).toBe('pending');
    expect(whatsapp.requests).toHaveLength(0);

    const ok = await submit({ body: 'Your order shipped today.' });
    expect(ok.json?.response_action).toBeUndefined();
    await h.waitForRun((r) => r.status === 'completed');
    await h.delivered();
    expect(whatsapp.sent.map((m) => [m.to, m.body])).toEqual([['15551234567', 'Your order shipped today.']]);
    expect(whatsapp.requests).toHaveLength(1);
    const shown = JSON.stringify(h.slack.message(card!.channel, card!.ts)!.blocks);
    expect(shown).toContain(`*Edited* by <@${APPROVER}> before approving`);
    expect(shown).toContain('Message: Your order shiped today. → Your order shipped today.');
    expect(modelResult(h)).toContain('Message: \\"Your order shiped today.\\" → \\"Your order shipped today.\\"');
  });

  it("deal stage: the dialog lists the pipeline's stages from HubSpot; the picked stage is the one HubSpot is sent; card and model say so", async () => {
    const card = await withHubSpot();
    const pipelineReads = hubspot!.requestsTo('GET /crm/v3/pipelines/deals/default').length;
    const { inputs, submit } = await openEdit(h, card);
    expect(hubspot!.requestsTo('GET /crm/v3/pipelines/deals/default').length).toBe(pipelineReads + 1);
    const select = inputs.find((b) => b.block_id === 'stage')!.element!;
    expect(select.type).toBe('static_select');
    // Active stages in board order, without the one the deal is in (and without the archived one).
    expect(select.options!.map((o) => [o.value, o.text.text])).toEqual([
      ['appointmentscheduled', 'Appointment scheduled'],
      ['contractsent', 'Contract sent'],
      ['closedwon', 'Closed won'],
      ['closedlost', 'Closed lost'],
    ]);
    expect(select.initial_option?.value).toBe('closedwon');

    const ok = await submit({ stage: 'contractsent' });
    expect(ok.json?.response_action).toBeUndefined();
    await h.waitForRun((r) => r.status === 'completed');
    await h.delivered();
    expect(hubspot!.requestsTo('PATCH /crm/v3/objects/deals/401').map((r) => r.body)).toEqual([{ properties: { dealstage: 'contractsent' } }]);
    expect(hubspot!.deals.get('401')!.dealstage).toBe('contractsent');
    const stored = await action(h, card.actionId);
    expect(JSON.parse(stored.input_json)).toEqual({ deal_id: '401', stage: 'contractsent' });
    const shown = JSON.stringify(h.slack.message(card.channel, card.ts)!.blocks);
    expect(shown).toContain('New stage: Closed won (closedwon) → Contract sent (contractsent)');
    expect(shown).toContain('Move deal \\"Acme renewal\\" from \\"Qualified to buy\\" to \\"Contract sent\\"');
    expect(modelResult(h)).toContain('New stage: \\"Closed won (closedwon)\\" → \\"Contract sent (contractsent)\\"');
  });

  it('deal stage: a dialog submitted on the proposed stage approves the call as proposed (no edit recorded)', async () => {
    const card = await withHubSpot();
    const { submit } = await openEdit(h, card);
    expect((await submit()).json?.response_action).toBeUndefined();
    await h.waitForRun((r) => r.status === 'completed');
    expect(hubspot!.requestsTo('PATCH /crm/v3/objects/deals/401').map((r) => r.body)).toEqual([{ properties: { dealstage: 'closedwon' } }]);
    expect(JSON.parse((await action(h, card.actionId)).input_json)).toEqual({ deal_id: '401', stage: 'Closed won' });
    expect(await h.app.db.selectFrom('activity').selectAll().where('kind', '=', 'action_edited').execute()).toHaveLength(0);
  });

  it('deal stage: when HubSpot cannot list the stages the dialog says so and takes a typed stage, checked against the pipeline on submit', async () => {
    const card = await withHubSpot();
    hubspot!.failNext('GET /crm/v3/pipelines/deals/default', 503);
    const { view, inputs, submit } = await openEdit(h, card);
    const warning = view.blocks.find((b) => b.type === 'context')?.elements?.[0]?.text ?? '';
    expect(warning).toContain('I could not offer the list for new stage');
    expect(warning).toContain('HubSpot is unavailable right now (HTTP 503)');
    const field = inputs.find((b) => b.block_id === 'stage')!.element!;
    expect([field.type, field.initial_value]).toEqual(['plain_text_input', 'Closed won']);

    const bad = await submit({ stage: 'Negotiation' });
    expect(bad.json.response_action).toBe('errors');
    expect(bad.json.errors.stage).toContain('"Negotiation" is not a stage of the pipeline "Sales Pipeline"');
    expect((await action(h, card.actionId)).status).toBe('pending');
    expect(hubspot!.requestsTo('PATCH')).toHaveLength(0);

    expect((await submit({ stage: 'contract SENT' })).json?.response_action).toBeUndefined();
    await h.waitForRun((r) => r.status === 'completed');
    expect(hubspot!.requestsTo('PATCH /crm/v3/objects/deals/401').map((r) => r.body)).toEqual([{ properties: { dealstage: 'contractsent' } }]);
  });
});
