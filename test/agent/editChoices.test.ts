import { afterEach, describe, expect, it } from 'vitest';
import { loadEditChoices } from '../../src/agent/editChoices.js';
import { editableFields } from '../../src/agent/edits.js';
import { createHubSpotClient } from '../../src/connectors/hubspot.js';
import type { Action } from '../../src/db/schema.js';
import { editModal } from '../../src/slack/blocks/editModal.js';
import { createUpdateDealStageTool } from '../../src/tools/crm.js';
import { ToolRegistry } from '../../src/tools/registry.js';
import { startFakeHubSpot, type FakeHubSpot, type FakeStage } from '../helpers/fakeHubSpot.js';

const RUN = { id: 'r-1', teamId: 'T1', channelId: 'C1', threadTs: null, requesterId: 'U1' };

/** A proposed deal move as stored (input and what prepare resolved), for the Edit dialog of its card. */
async function proposedMove(hubspot: FakeHubSpot, stage: string) {
  const tool = createUpdateDealStageTool(createHubSpotClient({ token: hubspot.token, apiUrl: hubspot.url, maxRetries: 0 }));
  const input = { deal_id: '401', stage };
  const prepared = await tool.prepare!(input, { run: RUN });
  const action = { id: 'a-1', tool: tool.name, input_json: JSON.stringify(input), prepared_json: JSON.stringify(prepared), input_hash: 'h' } as Action;
  return { registry: new ToolRegistry().register(tool), action, input };
}

const dialogOf = (action: Action, input: Record<string, unknown>, loaded: Awaited<ReturnType<typeof loadEditChoices>>) =>
  editModal({ actionId: action.id, hash: 'h', tool: action.tool, summary: 'Move', fields: editableFields(action.tool)!, input, choices: loaded.choices, unavailable: loaded.unavailable }) as {
    private_metadata: string;
    blocks: Array<{ type: string; block_id?: string; element?: { type: string; options?: unknown[]; initial_option?: { value: string }; initial_value?: string } }>;
  };

describe('the lists of the Edit dialog (deal stages)', () => {
  let hubspot: FakeHubSpot | undefined;
  afterEach(async () => {
    await hubspot?.close();
    hubspot = undefined;
  });

  it('offers the active stages but the current one, preselects the proposed one and remembers it in the metadata', async () => {
    hubspot = await startFakeHubSpot({ deals: [{ id: '401', dealname: 'Acme', pipeline: 'default', dealstage: 'qualifiedtobuy' }] });
    const { registry, action, input } = await proposedMove(hubspot, 'closed WON');
    const loaded = await loadEditChoices(registry, action);
    expect(loaded.unavailable).toBeUndefined();
    expect(loaded.choices['stage']!.options.map((o) => o.value)).toEqual(['appointmentscheduled', 'contractsent', 'closedwon', 'closedlost']);
    const view = dialogOf(action, input, loaded);
    const select = view.blocks.find((b) => b.block_id === 'stage')!.element!;
    expect([select.type, select.initial_option?.value]).toEqual(['static_select', 'closedwon']);
    expect(JSON.parse(view.private_metadata)).toEqual({ actionId: 'a-1', hash: 'h', picked: { stage: 'closedwon' } });
  });

  it('a pipeline with more stages than a Slack list holds (100) becomes a typed field that says why', async () => {
    const stages: FakeStage[] = Array.from({ length: 102 }, (_, i) => ({ id: `s${i}`, label: `Stage ${i}`, displayOrder: i }));
    hubspot = await startFakeHubSpot({ pipelines: [{ id: 'big', label: 'Big', stages }], deals: [{ id: '401', dealname: 'Acme', pipeline: 'big', dealstage: 's0' }] });
    const { registry, action, input } = await proposedMove(hubspot, 's5');
    const loaded = await loadEditChoices(registry, action);
    expect(loaded.unavailable).toBe('there are more than 100 values to pick from, more than a Slack list shows');
    const view = dialogOf(action, input, loaded);
    expect(view.blocks.find((b) => b.block_id === 'stage')!.element).toMatchObject({ type: 'plain_text_input', initial_value: 's5' });
    expect(JSON.stringify(view.blocks)).toContain('I could not offer the list for new stage: there are more than 100 values');
    expect(JSON.parse(view.private_metadata)).toEqual({ actionId: 'a-1', hash: 'h' });
  });

  it('a HubSpot refusal (missing scope) becomes a typed field with HubSpot\'s reason', async () => {
    hubspot = await startFakeHubSpot({ deals: [{ id: '401', dealname: 'Acme', pipeline: 'default', dealstage: 'qualifiedtobuy' }] });
    const { registry, action } = await proposedMove(hubspot, 'Closed won');
    hubspot.failNext('GET /crm/v3/pipelines/deals/default', 403);
    const loaded = await loadEditChoices(registry, action);
    expect(loaded.choices).toEqual({});
    expect(loaded.unavailable).toContain('missing the scope crm.objects.deals.read');
  });
});
