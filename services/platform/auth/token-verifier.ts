import { decodeProtectedHeader, errors, jwtVerify, type JWSHeaderParameters } from 'jose';
import type { AuthConfig } from '../config.js';
import { AuthFailure } from './auth-failure.js';
import type { KeySource } from './key-source.js';
import { clientFromClaims, type Client } from './principal.js';

/** Asymmetric only: `none` and HMAC (which a public key would "verify") never pass. */
export const allowedAlgorithms = ['RS256', 'ES256', 'EdDSA', 'Ed25519'];

// Clocks of issuer and service may differ a little.
const clockToleranceSeconds = 30;

/**
 * Verifies a compact JWT: algorithm allow-list, signature by one of the
 * source's keys, `exp` (required), `nbf`, `iss` and, when configured, `aud`;
 * then reads the client claims. Every refusal is an {@link AuthFailure} whose
 * message says what failed and never contains the token.
 */
export async function verifyToken(token: string, keys: KeySource, config: Pick<AuthConfig, 'issuer' | 'audience'>): Promise<Client> {
  let header: JWSHeaderParameters;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    throw new AuthFailure('malformed', 'token is not a well-formed JWT');
  }
  if (typeof header.alg !== 'string' || !allowedAlgorithms.includes(header.alg)) {
    throw new AuthFailure('bad_algorithm', `token algorithm is not accepted (allowed: ${allowedAlgorithms.join(', ')})`);
  }
  let candidates: Awaited<ReturnType<KeySource['candidates']>>;
  try {
    candidates = await keys.candidates(header);
  } catch {
    throw new AuthFailure('key_source_unavailable', 'verification keys are unavailable; retry later');
  }
  if (candidates.length === 0) throw new AuthFailure('unknown_key', 'token is not signed by a known key');
  for (const key of candidates) {
    try {
      const { payload } = await jwtVerify(token, key, {
        algorithms: allowedAlgorithms,
        issuer: config.issuer,
        ...(config.audience !== undefined ? { audience: config.audience } : {}),
        requiredClaims: ['exp'],
        clockTolerance: clockToleranceSeconds,
      });
      return clientFromClaims(payload);
    } catch (error) {
      // The next key may be the one (rotation); any other failure means the signature was fine.
      if (error instanceof errors.JWSSignatureVerificationFailed) continue;
      throw asAuthFailure(error);
    }
  }
  throw new AuthFailure('bad_signature', 'token signature is not valid');
}

function asAuthFailure(error: unknown): unknown {
  if (error instanceof AuthFailure) return error;
  if (error instanceof errors.JWTExpired) return new AuthFailure('expired', 'token has expired');
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case 'iss':
        return new AuthFailure('wrong_issuer', 'token issuer is not accepted');
      case 'aud':
        return new AuthFailure('wrong_audience', 'token audience is not accepted');
      case 'nbf':
        return new AuthFailure('not_yet_valid', 'token is not valid yet');
      default:
        return new AuthFailure('invalid_claims', `token claim ${error.claim} is missing or invalid`);
    }
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return new AuthFailure('bad_algorithm', 'token algorithm is not accepted');
  if (error instanceof errors.JOSEError) return new AuthFailure('malformed', 'token is not a well-formed JWT');
  return error;
}
