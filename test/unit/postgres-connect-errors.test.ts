/**
 * The words for a PostgreSQL store that cannot connect (src/store/postgres/connect.ts): the `--db`
 * URL parser, and the one line each server error or socket failure becomes (which server, what is
 * wrong, what to change; never the password). A real server's refusals (a wrong password, a
 * missing database, nothing listening) are in test/unit/postgres-store.test.ts and
 * test/integration/doctor-postgres.test.ts; the ones a test server cannot be made to give
 * (too many connections, a server starting up, an unknown host) are given here as pg raises them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MitteloError } from '../../src/errors.ts';
import {
  describeConnectError,
  errorText,
  isConnectionFailure,
  parseDatabaseUrl,
  redactUrl,
} from '../../src/store/postgres/connect.ts';

const settings = { connectTimeoutMs: 4000 };
const target = parseDatabaseUrl('postgres://alice:s3cret@db.example:6543/queue');

function serverError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

function described(error: unknown, where = target): MitteloError {
  const result = describeConnectError(error, where, settings);
  assert.ok(result instanceof MitteloError);
  assert.doesNotMatch(result.message, /s3cret/);
  return result;
}

describe('parseDatabaseUrl', () => {
  it('reads host, port, database and user, and names the server without the password', () => {
    assert.equal(target.host, 'db.example');
    assert.equal(target.port, 6543);
    assert.equal(target.database, 'queue');
    assert.equal(target.user, 'alice');
    assert.equal(target.where, 'db.example:6543/queue');
  });

  it('a socket folder (?host=) and an IPv6 host are named as such; the port defaults to 5432', () => {
    const socket = parseDatabaseUrl('postgresql:///queue?host=/var/run/postgresql');
    assert.equal(socket.host, '/var/run/postgresql');
    assert.equal(socket.port, 5432);
    assert.equal(parseDatabaseUrl('postgres://[::1]/q').where, '[::1]:5432/q');
  });

  it('refuses what is not a PostgreSQL URL, or names no database, hiding the password', () => {
    assert.throws(
      () => parseDatabaseUrl('postgres://a:pw@[bad'),
      /is not a PostgreSQL URL: expected postgres:\/\//,
    );
    assert.throws(() => parseDatabaseUrl('mysql://a:pw@h/db'), /it starts with mysql:\/\//);
    assert.throws(() => parseDatabaseUrl('postgres://h/'), /names no database/);
    assert.throws(() => parseDatabaseUrl('postgres://h/a/b'), /names no database/);
    assert.equal(redactUrl('postgres://a:pw@h/db'), 'postgres://a:***@h/db');
  });
});

describe('describeConnectError', () => {
  const cases: Array<[string, unknown, string, RegExp]> = [
    [
      'a missing database',
      serverError('3D000', 'database "queue" does not exist'),
      'bad_request',
      /^the database "queue" does not exist on PostgreSQL at db\.example:6543: create it with `createdb -h db\.example -p 6543 -U alice queue`/,
    ],
    [
      'a wrong password',
      serverError('28P01', 'password authentication failed for user "alice"'),
      'bad_request',
      /refused the password of user "alice" .*PGPASSWORD/,
    ],
    [
      'no password given',
      new Error('SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string'),
      'bad_request',
      /asks user "alice" for a password and --db gives none/,
    ],
    [
      'a user pg_hba.conf does not let in',
      serverError('28000', 'no pg_hba.conf entry for host'),
      'bad_request',
      /does not let user "alice" in .*pg_hba\.conf/,
    ],
    [
      'a server starting up',
      serverError('57P03', 'the database system is starting up'),
      'unavailable',
      /is starting up or shutting down .*try again in a moment/,
    ],
    [
      'too many connections',
      serverError('53300', 'sorry, too many clients already'),
      'unavailable',
      /has no free connections .*max_connections/,
    ],
    [
      'no answer in time',
      new Error('timeout expired'),
      'unavailable',
      /did not answer within 4 s: check that the server runs/,
    ],
    [
      'a host that does not resolve',
      serverError('ENOTFOUND', 'getaddrinfo ENOTFOUND db.example'),
      'unavailable',
      /^cannot find the PostgreSQL host "db\.example" \(ENOTFOUND\)/,
    ],
    [
      'an SSL refusal',
      new Error('The server does not support SSL connections'),
      'bad_request',
      /check sslmode in --db/,
    ],
    [
      'nothing listening',
      serverError('ECONNREFUSED', 'connect ECONNREFUSED 10.0.0.1:6543'),
      'unavailable',
      /is not answering \(connect ECONNREFUSED .*\): start the server/,
    ],
    [
      'anything else',
      serverError('XX000', 'internal error'),
      'unavailable',
      /^cannot connect to PostgreSQL at db\.example:6543\/queue \(XX000: internal error\)$/,
    ],
  ];
  for (const [name, error, code, words] of cases) {
    it(`${name}: ${code}`, () => {
      const result = described(error);
      assert.equal(result.code, code);
      assert.match(result.message, words);
      assert.equal(result.details?.db, 'db.example:6543/queue');
    });
  }

  it('the createdb hint leaves out the defaults; a user without a name is "the user"', () => {
    const local = parseDatabaseUrl('postgres://localhost/queue');
    const previous = process.env.PGUSER;
    delete process.env.PGUSER;
    try {
      const plain = parseDatabaseUrl('postgres://localhost/queue');
      assert.match(described(serverError('3D000', 'x'), local).message, /`createdb (-U \S+ )?queue`/);
      assert.match(described(serverError('28000', 'x'), plain).message, /does not let the user in/);
    } finally {
      if (previous !== undefined) process.env.PGUSER = previous;
    }
  });

  it('a MitteloError passes through unchanged', () => {
    const given = new MitteloError('bad_request', 'already said');
    assert.equal(describeConnectError(given, target, settings), given);
  });
});

describe('isConnectionFailure and errorText', () => {
  it('socket codes, SQLSTATE class 08 and admin shutdowns are connection failures; a syntax error is not', () => {
    for (const code of ['ECONNREFUSED', '08006', '57P01', '53300']) {
      assert.equal(isConnectionFailure(serverError(code, 'x')), true, code);
    }
    assert.equal(isConnectionFailure(serverError('42601', 'syntax error')), false);
    assert.equal(isConnectionFailure(new Error('Connection terminated unexpectedly')), true);
    assert.equal(isConnectionFailure(new Error('Client was closed and is not queryable')), true);
  });

  it('an AggregateError (every address refused) counts by its members and speaks with the first', () => {
    const every = new AggregateError([serverError('ECONNREFUSED', 'connect ECONNREFUSED ::1:5432')], '');
    assert.equal(isConnectionFailure(every), true);
    assert.equal(errorText(every), 'connect ECONNREFUSED ::1:5432');
    assert.equal(errorText(new Error('first line\nsecond')), 'first line');
    assert.equal(errorText('plain words'), 'plain words');
  });
});
