/**
 * Reading vendor usage windows from a run's output (src/backends/usage-limits.ts), on the shapes
 * BACKEND_FACTS §10 gives: the reset time and the window's name, and the split stream-json line.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseClaude } from '../../src/backends/drivers/claude-code.ts';
import { extractObjects } from '../../src/backends/drivers/json-lines.ts';
import {
  claudeUsageLimit,
  codexUsageLimit,
  geminiUsageLimit,
  limitReason,
  nextClockTime,
  RATE_LIMIT_EVENT_MARKER,
  retryAfterSeconds,
} from '../../src/backends/usage-limits.ts';

// 2026-05-12 05:46:40 UTC
const NOW = 1_778_564_800;
const event = (status: string, type = 'five_hour') =>
  JSON.stringify({
    type: 'rate_limit_event',
    rate_limit_info: { status, resetsAt: 1778565600, rateLimitType: type, overageStatus: 'rejected' },
  });

describe('usage limits', () => {
  it('a rejected rate_limit_event gives the reset and the window; an allowed one is no limit', () => {
    assert.deepEqual(claudeUsageLimit(`${event('rejected')}\n`, NOW), {
      resets_at: 1778565600,
      window: 'five_hour',
    });
    assert.deepEqual(claudeUsageLimit(event('rejected', 'seven_day'), NOW)?.window, 'weekly');
    assert.equal(claudeUsageLimit(`${event('allowed')}\n{"type":"result","is_error":true}`, NOW), null);
  });

  it("reads Claude Code's text: the clock in the named time zone, and the old unix-seconds form", () => {
    const hit = claudeUsageLimit("You've hit your limit · resets 2pm (Asia/Shanghai)", NOW);
    // 14:00 in Shanghai (UTC+8) is 06:00 UTC: the next one after 05:46 UTC is today's.
    assert.equal(hit?.resets_at, Date.UTC(2026, 4, 12, 6, 0) / 1000);
    assert.equal(claudeUsageLimit('Claude AI usage limit reached|1778570000', NOW)?.resets_at, 1778570000);
    assert.equal(
      claudeUsageLimit("You've hit your weekly limit · resets 9:30am (UTC)", NOW)?.window,
      'weekly',
    );
    assert.equal(claudeUsageLimit("You've hit your limit", NOW)?.resets_at, null);
    assert.equal(claudeUsageLimit('all fine', NOW), null);
  });

  it('the next wall-clock time is tomorrow once today’s has passed', () => {
    assert.equal(nextClockTime('5am', 'UTC', NOW), Date.UTC(2026, 4, 13, 5, 0) / 1000);
    assert.equal(nextClockTime('14:00', 'Europe/Helsinki', NOW), Date.UTC(2026, 4, 12, 11, 0) / 1000);
    assert.equal(nextClockTime('12am', 'UTC', NOW), Date.UTC(2026, 4, 13, 0, 0) / 1000);
    assert.equal(nextClockTime('soon', 'UTC', NOW), null);
  });

  it('survives a rate_limit_event written into the middle of another line', () => {
    const result = JSON.stringify({
      type: 'result',
      is_error: false,
      result: 'the answer',
      total_cost_usd: 0.01,
    });
    const cut = result.indexOf('answer');
    const stdout = `${result.slice(0, cut)}${event('allowed')}\n${result.slice(cut)}\n`;
    const { objects, rest } = extractObjects(stdout, RATE_LIMIT_EVENT_MARKER);
    assert.equal(objects.length, 1);
    assert.equal(rest, `${result}\n`);
    assert.equal(parseClaude(stdout).text, 'the answer');
    assert.equal(parseClaude(stdout).error, undefined);
    const rejected = `${result.slice(0, cut)}${event('rejected')}${result.slice(cut)}`;
    assert.equal(claudeUsageLimit(rejected, NOW)?.resets_at, 1778565600);
    assert.equal(parseClaude(rejected).text, 'the answer');
  });

  it("Codex's usage_limit_reached, Gemini's RESOURCE_EXHAUSTED, Retry-After", () => {
    const codex = JSON.stringify({
      type: 'error',
      status_code: 429,
      error: { type: 'usage_limit_reached', resets_in_seconds: 9568 },
    });
    assert.equal(codexUsageLimit(codex, NOW)?.resets_at, NOW + 9568);
    assert.equal(codexUsageLimit('{"type":"error","message":"429 Too Many Requests"}', NOW), null);
    assert.deepEqual(geminiUsageLimit('status 429 RESOURCE_EXHAUSTED', NOW), {
      resets_at: null,
      window: null,
    });
    assert.equal(geminiUsageLimit('fetch failed', NOW), null);
    assert.equal(retryAfterSeconds('30', 0), 30);
    assert.equal(retryAfterSeconds('soon', 0), null);
    assert.equal(limitReason('five_hour'), 'five-hour usage limit');
    assert.equal(limitReason(null), 'usage limit');
  });
});
