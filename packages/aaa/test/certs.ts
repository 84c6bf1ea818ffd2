import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Paths of one generated certificate, its key (mode 0600) and the CA that signed it. */
export interface CertFiles {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/**
 * Test PKI, generated at test time with `openssl` (no private key is ever committed): a CA named
 * `caName` in `dir`, and `issue(cn)` for leaf certificates with subject CN and SAN DNS `cn`.
 */
export function testCa(dir: string, caName: string): { ca: string; issue(cn: string, file?: string): CertFiles } {
  const caKey = `${caName}-ca.key`;
  const caCrt = `${caName}-ca.crt`;
  openssl(dir, ['req', '-x509', ...newKey, '-keyout', caKey, '-out', caCrt, '-subj', `/CN=${caName}`, '-days', '2']);
  const ca = path.join(dir, caCrt);
  return {
    ca,
    issue(cn: string, file = `${caName}-${cn}`): CertFiles {
      const ext = `${file}.ext`;
      fs.writeFileSync(path.join(dir, ext), `subjectAltName=DNS:${cn}\nbasicConstraints=CA:FALSE\n`);
      openssl(dir, ['req', ...newKey, '-keyout', `${file}.key`, '-out', `${file}.csr`, '-subj', `/CN=${cn}`]);
      openssl(dir, [
        'x509',
        '-req',
        '-in',
        `${file}.csr`,
        '-CA',
        caCrt,
        '-CAkey',
        caKey,
        '-CAcreateserial',
        '-out',
        `${file}.crt`,
        '-days',
        '2',
        '-extfile',
        ext,
      ]);
      const key = path.join(dir, `${file}.key`);
      fs.chmodSync(key, 0o600);
      return { ca, cert: path.join(dir, `${file}.crt`), key };
    },
  };
}
