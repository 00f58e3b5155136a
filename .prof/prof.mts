import { readFileSync } from 'node:fs';
import pg from 'pg';
import { openDatabase } from '/work/wt/pg/src/db/connection.ts';
import { migrateToLatest } from '/work/wt/pg/src/db/migrate.ts';
import { openKnowledgeIndex } from '/work/wt/pg/src/connectors/openKnowledgeIndex.ts';
const admin = readFileSync('/tmp/pgurl','utf8');
for (let i = 0; i < 3; i++) {
  let t = Date.now();
  const c = new pg.Client(admin); await c.connect(); await c.query(`create database prof_${i}_${Date.now()}`).catch(e=>console.log(e.message));
  const name = (await c.query(`select datname from pg_database where datname like 'prof_${i}_%'`)).rows[0].datname;
  await c.end();
  console.log('create', Date.now() - t); t = Date.now();
  const u = new URL(admin); u.pathname = '/' + name;
  const o = openDatabase({ engine: 'postgres', url: u.toString() });
  await migrateToLatest(o.db);
  console.log('migrate', Date.now() - t); t = Date.now();
  const k = await openKnowledgeIndex(o);
  console.log('kindex', Date.now() - t); t = Date.now();
  for (let j = 0; j < 100; j++) await o.db.selectFrom('runs').selectAll().where('id', '=', 'x').execute();
  console.log('100 selects', Date.now() - t); t = Date.now();
  for (let j = 0; j < 50; j++) await o.db.transaction().execute(async (trx) => { await trx.insertInto('processed_events').values({ key: 'k' + j, at: 'x' }).execute(); });
  console.log('50 tx inserts', Date.now() - t); t = Date.now();
  await o.db.destroy();
}
