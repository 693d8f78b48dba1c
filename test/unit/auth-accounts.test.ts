import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccountStore, hashPassword, verifyPassword } from '../../auth/accounts.js';

describe('auth/accounts: staff account store', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'vertebra-accounts-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('hashes with scrypt and a per-user salt; verifies right and wrong passwords', async () => {
    const a = await hashPassword('s3cret-password');
    const b = await hashPassword('s3cret-password');
    expect(a).to.match(/^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/);
    expect(a).to.not.equal(b); // different salts
    expect(await verifyPassword('s3cret-password', a)).to.equal(true);
    expect(await verifyPassword('s3cret-passworD', a)).to.equal(false);
    expect(await verifyPassword('s3cret-password', 'garbage')).to.equal(false);
    expect(await verifyPassword('s3cret-password', 'scrypt$99999999$8$1$abc$def')).to.equal(false);
  });

  it('writes no plaintext to disk, file mode 0600, and survives a reload', async () => {
    const file = join(dir, 'auth', 'accounts.json');
    const store = new AccountStore(file);
    await store.put({ username: 'dr.jones', password: 'Plaintext-Never-Stored-42', fhirUser: 'Practitioner/p1', roles: ['R8000'], patients: ['9000000009'] });
    const text = readFileSync(file, 'utf8');
    expect(text).to.not.contain('Plaintext-Never-Stored-42');
    expect(text).to.contain('dr.jones');
    expect(statSync(file).mode & 0o777).to.equal(0o600);
    const again = new AccountStore(file);
    expect(again.get('dr.jones')).to.include({ fhirUser: 'Practitioner/p1' });
    expect(await again.authenticate('dr.jones', 'Plaintext-Never-Stored-42')).to.include({ username: 'dr.jones' });
    expect(await again.authenticate('dr.jones', 'wrong')).to.equal(undefined);
    expect(await again.authenticate('nobody', 'Plaintext-Never-Stored-42')).to.equal(undefined);
  });

  it('refuses bad input', async () => {
    const store = new AccountStore(join(dir, 'a.json'));
    const base = { username: 'u', password: 'long enough', fhirUser: 'Practitioner/p1', roles: ['R8000'] };
    for (const bad of [{ username: 'no spaces allowed' }, { password: 'short' }, { fhirUser: 'not a reference' }, { roles: ['R8000<script>'] }]) {
      let err: Error | undefined;
      try { await store.put({ ...base, ...bad }); } catch (e) { err = e as Error; }
      expect(err, JSON.stringify(bad)).to.be.instanceOf(Error);
    }
    expect(store.size).to.equal(0);
  });
});
