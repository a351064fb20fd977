/**
 * Permission levels onto each CLI's own switches (src/backends/permissions.ts), and what doctor
 * and the run header say of them; the switches reach the command lines the drivers build.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { claudeCode } from '../../src/backends/drivers/claude-code.ts';
import { driverContext } from '../../src/backends/drivers/driver-backend.ts';
import { opencode } from '../../src/backends/drivers/opencode.ts';
import { describePermissions, permissionArgs, permissionEnv } from '../../src/backends/permissions.ts';

describe('permissions', () => {
  it('maps read, edit and full onto each CLI’s switches', () => {
    assert.deepEqual(
      (['read', 'edit', 'full'] as const).map((level) => permissionArgs('claude_code', level)),
      [
        ['--permission-mode', 'plan'],
        ['--permission-mode', 'acceptEdits'],
        ['--permission-mode', 'bypassPermissions'],
      ],
    );
    assert.deepEqual(permissionArgs('glm', 'edit'), permissionArgs('claude_code', 'edit'));
    assert.deepEqual(permissionArgs('codex', 'edit'), ['-s', 'workspace-write']);
    assert.deepEqual(permissionArgs('gemini', 'full'), ['--approval-mode', 'yolo']);
    assert.deepEqual(permissionArgs('kiro', 'read'), ['--trust-tools=fs_read']);
    assert.deepEqual(permissionArgs('codex', undefined), ['-s', 'read-only'], 'absent is read');
    assert.deepEqual(JSON.parse(permissionEnv('opencode', 'edit').OPENCODE_PERMISSION!), {
      edit: 'allow',
      bash: 'deny',
      webfetch: 'deny',
    });
    assert.deepEqual(permissionArgs('shell', 'full'), []);
    assert.deepEqual(permissionEnv('claude_code', 'full'), {});
  });

  it('says what each backend may do, and where a level is not enforced', () => {
    assert.equal(
      describePermissions('codex', 'read'),
      'read (reads, changes nothing: codex exec -s read-only)',
    );
    assert.match(
      describePermissions('opencode', 'full'),
      /^full \(anything.*OPENCODE_PERMISSION='\{"edit":"allow"/,
    );
    assert.match(
      describePermissions('shell', 'edit'),
      /^edit \(not enforced: shell runs your program as it is\)$/,
    );
    assert.match(describePermissions('echo', 'full'), /answers only/);
    assert.match(describePermissions('kimi', 'read'), /not enforced/);
  });

  it('reaches the command lines: claude’s args and opencode’s environment', () => {
    const context = driverContext(claudeCode, { env: {} });
    const args = claudeCode.invocation('p', context, { permissions: 'edit' }).args;
    assert.equal(args[args.indexOf('--permission-mode') + 1], 'acceptEdits');
    assert.equal(
      claudeCode.invocation('p', context, {}).args[
        claudeCode.invocation('p', context, {}).args.indexOf('--permission-mode') + 1
      ],
      'plan',
    );
    const env =
      opencode.invocation('p', driverContext(opencode, { env: {} }), { permissions: 'read' }).env ?? {};
    assert.equal(JSON.parse(env.OPENCODE_PERMISSION!).bash, 'deny');
  });
});
