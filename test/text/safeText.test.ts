import { describe, expect, it } from 'vitest';
import { findInvisible, revealInvisible } from '../../src/text/invisible.js';
import { clipped, code, link, md, mention, withUserMentions } from '../../src/text/mrkdwn.js';
import { renderModelText } from '../../src/text/modelText.js';
import { clipText, escapeText, fencedChunks, splitText } from '../../src/text/units.js';

/** What a reader of the fenced text sees, as source text (fences, our zero-width breaks and entities undone). */
function unfence(chunks: string[]): string {
  return chunks
    .map((c) => c.slice(3, -3).replace(/\u200b/g, ''))
    .join('')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

describe('invisible characters', () => {
  it('shows direction overrides, zero-width, BOM, tag and control characters as markers', () => {
    const text = 'pay\u202Efdp.exe \u200Bx\u200C\u200D\u200E\u200F \u2060\u2064 \uFEFF \u2066a\u2069 \u0007 \u00AD \u{E0041}\u{E0042}';
    const r = revealInvisible(text);
    expect(r.text).toBe('pay[U+202E]fdp.exe [U+200B]x[U+200C][U+200D][U+200E][U+200F] [U+2060][U+2064] [U+FEFF] [U+2066]a[U+2069] [U+0007] [U+00AD] [U+E0041][U+E0042]');
    expect(r.count).toBe(15);
    expect(r.markers[0]).toBe('[U+202E]');
  });

  it('keeps tabs, newlines, CRLF, emoji sequences and subdivision flags as they are', () => {
    const text = 'a\tb\r\nc\n👨‍👩‍👧 🏳️‍🌈 👍🏽 ❤️ 🏴\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}';
    expect(revealInvisible(text)).toEqual({ text, count: 0, markers: [] });
    expect(revealInvisible('a\rb').text).toBe('a[U+000D]b');
    expect(findInvisible('x\u202Ey', undefined, 'z\u200B')).toEqual({ count: 2, markers: ['[U+202E]', '[U+200B]'] });
  });
});

describe('md and friends', () => {
  it('escapes every interpolation and shows hidden characters; ids become mentions only through builders', () => {
    const hostile = '<!channel> <@U123> <https://evil.test|https://acme.test> & \u202E';
    expect(md`*Subject:* ${hostile} by ${mention('U_BOB')}`.value).toBe(
      '*Subject:* &lt;!channel&gt; &lt;@U123&gt; &lt;https://evil.test|https://acme.test&gt; &amp; [U+202E] by <@U_BOB>',
    );
    expect(mention('<!channel>').value).toBe('&lt;!channel&gt;');
    expect(code('a`b<c>').value).toBe("`a'b&lt;c&gt;`");
    expect(withUserMentions('Rejected by <@U_BOB>: <!here> <@U1|x> <https://e.test>').value).toBe(
      'Rejected by <@U_BOB>: &lt;!here&gt; &lt;@U1|x&gt; &lt;https://e.test&gt;',
    );
  });

  it('links made by the app never hide their target behind an address-like label', () => {
    expect(link('https://slack.test/archives/C1/p1', 'Send email to a@b.test').value).toBe('Send email to a@b.test (<https://slack.test/archives/C1/p1>)');
    expect(link('https://slack.test/x', 'https://acme.test/invoice').value).toBe('<https://slack.test/x>');
    expect(link('javascript:alert(1)', 'click').value).toBe('click (javascript:alert(1))');
  });

  it('clips on escaped length without splitting an entity or a marker', () => {
    const c = clipText('&&&&\u202E', 12);
    expect(c).toEqual({ out: '&amp;&amp;…', cut: true, shown: 2, total: 5 });
    expect(clipped('<<<', 15).value).toBe('&lt;&lt;&lt;');
    expect(splitText('a&b&c', 5).map((x) => x.out)).toEqual(['a', '&amp;', 'b', '&amp;', 'c']);
  });
});

describe('code fences', () => {
  it('escapes inside fences, breaks backtick runs, keeps every chunk within the limit including what it adds', () => {
    const source = '```<!channel>``` `x` ````` <https://evil.test|ok> &amp; \u202E end`';
    const chunks = fencedChunks(source, 40).map((c) => c.out);
    for (const c of chunks) {
      expect(c.length).toBeLessThanOrEqual(40);
      expect(c.startsWith('```') && c.endsWith('```')).toBe(true);
      const inner = c.slice(3, -3);
      expect(inner).not.toMatch(/```/);
      expect(inner).not.toMatch(/[<>]/);
    }
    expect(unfence(chunks)).toBe(revealInvisible(source).text);
  });

  it('never overflows with text that grows five times when escaped', () => {
    const source = '&'.repeat(10_000);
    const chunks = fencedChunks(source, 3000);
    expect(chunks.every((c) => c.out.length <= 3000)).toBe(true);
    expect(chunks.reduce((n, c) => n + c.shown, 0)).toBe(10_000);
    expect(unfence(chunks.map((c) => c.out))).toBe(source);
  });
});

describe('model-written text', () => {
  it('keeps plain formatting and bare links, and never produces a ping, a mention or a disguised link', () => {
    const answer = [
      '# Summary',
      '<!channel> URGENT: **read this** and ~~ignore~~ _that_',
      '- see [https://acme.slack.com/approvals](https://evil.test/phish)',
      '* and <https://evil.test/pay|https://acme.test/invoice> or <https://ok.test/a?b=1&c=2>',
      '1. ping <@U0ADMIN> <!here> <!everyone> <!subteam^S0TEAM|@admins> <#C0GEN>',
      '> *Approved* by @admin',
      'Docs: https://docs.test/page. Or [the report](https://docs.test/r).',
      '`<!channel>` and ```',
      '<!channel> in a block',
      '```',
    ].join('\n');
    expect(renderModelText(answer).value).toBe(
      [
        '*Summary*',
        '&lt;!channel&gt; URGENT: *read this* and ~ignore~ _that_',
        '• see <https://evil.test/phish>',
        '• and <https://evil.test/pay> or <https://ok.test/a?b=1&amp;c=2>',
        '1. ping &lt;@U0ADMIN&gt; &lt;!here&gt; &lt;!everyone&gt; &lt;!subteam^S0TEAM|@admins&gt; &lt;#C0GEN&gt;',
        '> *Approved* by @admin',
        'Docs: <https://docs.test/page>. Or the report (<https://docs.test/r>).',
        '`&lt;!channel&gt;` and ```&lt;!channel&gt; in a block```',
      ].join('\n'),
    );
  });

  it('shows invisible characters and refuses links with hidden characters or odd schemes', () => {
    expect(renderModelText('ok \u202Etxt.exe [x](javascript:alert(1)) https://a\u200b.test').value).toBe(
      'ok [U+202E]txt.exe [x](javascript:alert(1)) https://a[U+200B].test',
    );
  });

  it('cuts long answers from the source so the markup stays whole', () => {
    const long = `${'<https://a.test> '.repeat(500)}`;
    const r = renderModelText(long, { max: 3000 });
    expect(r.length).toBeLessThanOrEqual(3000);
    expect(r.value).toMatch(/_\(cut: \d+ more characters\)_$/);
    expect(r.value.replace(/<https:\/\/[^<>|\s]+>/g, '')).not.toMatch(/[<>]/);
  });

  it('escapes plain text like md does', () => {
    expect(escapeText('a < b & c > d')).toBe('a &lt; b &amp; c &gt; d');
  });
});
