// Type declarations of @keyward/client (written by hand; no TypeScript
// compiler is needed to use the package).
//
// Naming: every RPC of keyward.v1 is a method named by the RPC in camelCase
// (Sign -> sign, GetJwks -> getJwks, WhoAmI -> whoAmI), as the Python client
// names them in snake_case. Key names may be given as 'pay' or 'keys/pay'.
// Durations (ttl, timeout, leeway, ...) are seconds. Results are plain
// objects: camelCase fields, enums as full names ('KEY_TYPE_ED25519'),
// 64-bit integers as decimal strings, bytes as Buffers, timestamps as
// {seconds, nanos} (or Date where noted).
//
// Errors: every call rejects with a KeywardError subclass carrying the
// daemon's status code and message, never a bare transport error. Every
// method may reject with UnauthenticatedError, PermissionDeniedError,
// ResourceExhaustedError (rate limit), UnavailableError (daemon down,
// sealed, shutting down, audit write failed: nothing was done) and
// DeadlineExceededError; each method's own errors are listed beside it. A
// wrong argument type, an unknown option or an unknown enum name rejects
// (list methods: throws) with a TypeError or RangeError naming it, before
// any call. Secrets (passphrases, API keys, key material) are taken from
// Buffers or files and never appear in error text.

/// <reference types="node" />

export type Bytes = Buffer | Uint8Array;
export type Seconds = number;
export type Timestamp = {seconds: string; nanos: number};
export type Duration = {seconds: string; nanos: number};
/** An enum value by short ('ED25519') or full ('KEY_TYPE_ED25519') name. */
export type EnumName = string;

export interface TlsOptions {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  serverName?: string;
}

/** Idempotent calls are retried on UNAVAILABLE only: the pause after
 * attempt n is min(initialBackoff * multiplier^(n-1), maxBackoff) seconds;
 * no retry that could not finish before the deadline. State-changing calls
 * (creates, rotations, version states, policies, API keys, login, unseal,
 * recorded tokens, ...) are never retried. */
export interface RetryPolicy {
  maxAttempts?: number;     // 3
  initialBackoff?: Seconds; // 0.05
  multiplier?: number;      // 2
  maxBackoff?: Seconds;     // 1
}

export interface ClientOptions {
  /** Deadline of each unary call, retries included (10). */
  timeout?: Seconds;
  /** Deadline of createBackup, restoreBackup and a non-following readAuditLog (600). */
  streamTimeout?: Seconds;
  /** TLS or mutual TLS, for host:port targets only. */
  tls?: TlsOptions;
  /** A session token (from login() or `keyward login`), sent as a bearer token. */
  token?: string | Bytes;
  /** A file holding the session token (one trailing newline removed). */
  tokenFile?: string;
  retry?: RetryPolicy;
  /** Directory holding keyward/v1/*.proto (default: the package's own). */
  protoRoot?: string;
}

export interface CallOptions { timeout?: Seconds }

export interface Key {
  name: string; keyType: string; purpose: string; signatureAlgorithms: string[];
  jweAlgorithm: string; description: string; labels: Record<string, string>;
  primaryVersion: number; minDecryptionVersion: number; minEncryptionVersion: number;
  rotationPeriod: Duration | null; nextRotationTime: Timestamp | null; exportable: boolean;
  publicOnly: boolean; jwt: {maxTtl: Duration | null; defaultTtl: Duration | null; issuer: string} | null;
  createTime: Timestamp | null; updateTime: Timestamp | null;
  /** An HMAC key imported with a secret below RFC 7518's minimum (allowShortSecret). */
  legacyShortSecret: boolean;
}
export interface KeyVersion {
  name: string; number: number; state: string; origin: string; primary: boolean; kid: string;
  publicKeySha256: Buffer; createTime: Timestamp | null; stateChangeTime: Timestamp | null;
  destroyTime: Timestamp | null;
}
export interface SignResult { signature: Buffer; rawSignature: Buffer; keyVersion: string; algorithm: string }
export interface MacResult { mac: Buffer; rawMac: Buffer; keyVersion: string }
export interface DataKey { plaintext: Buffer; ciphertext: Buffer; keyVersion: string }
export interface BoxResult { ciphertext: Buffer; keyVersion: string; senderPublicKey: Buffer }
export interface ReEncryptResult { ciphertext: Buffer; keyVersion: string; sourceKeyVersion: string }
export interface PublicKey { publicKey: Buffer; format: string; keyVersion: string; keyType: string; kid: string }
export interface BatchResult<T> { value: T | null; error: KeywardError | null }
export interface ImportedKey { key: Key; version: KeyVersion }
export interface ExportedKey { material: Buffer; format: string; keyVersion: string }
export interface SignedJwt {
  token: string; jti: string; keyVersion: string; issueTime: Date | null;
  expireTime: Date | null; recordName: string;
}
export interface JwtVerdict {
  valid: boolean; /** short JwtFailure name ('EXPIRED'), '' when valid */ failure: string;
  failureDetail: string; header: Record<string, unknown> | null;
  claims: Record<string, unknown> | null; keyVersion: string;
}
export interface EncryptedJwe { token: string; keyVersion: string; nested: SignedJwt | null }
export interface DecryptedJwe {
  payload: Buffer; header: Record<string, unknown> | null; keyVersion: string; nested: JwtVerdict | null;
}
export interface Policy {
  name: string; principal: string; operations: string[]; resource: string; description: string;
  expireTime: Timestamp | null; createTime: Timestamp | null; createdBy: string; builtin: boolean;
}
export interface ApiKey {
  name: string; principal: string; description: string; expireTime: Timestamp | null; state: string;
  createTime: Timestamp | null; createdBy: string; lastLoginTime: Timestamp | null;
  revokeTime: Timestamp | null;
}
/** The token property is not enumerable (not shown by JSON.stringify or console.log). */
export interface Session { principal: string; expireTime: Date | null; readonly token: string }
export type TokenRecord = Record<string, any>;
export type AuditRecord = Record<string, any>;
export type BackupInfo = {formatVersion: number; backupId: string; createTime: Timestamp | null;
  daemonVersion: string; keyCount: string};
export type JwtClaims = Record<string, unknown> | string;

export interface KeyFields {
  description?: string; labels?: Record<string, string>; rotationPeriod?: Seconds;
  minDecryptionVersion?: number; minEncryptionVersion?: number; jwtMaxTtl?: Seconds;
  jwtDefaultTtl?: Seconds; jwtIssuer?: string;
}
export interface KeyTemplate extends KeyFields {
  purpose?: EnumName; algorithms?: EnumName[]; jweAlgorithm?: EnumName; exportable?: boolean;
}

export class Client {
  /** target: 'unix:///abs.sock', '/abs.sock', 'host:port' (plaintext only to
   * loopback; TLS with options.tls); undefined: $KEYWARD_ADDR, else
   * $XDG_RUNTIME_DIR/keyward/keyward.sock, else DEFAULT_SYSTEM_SOCKET.
   * Throws TypeError/RangeError for a bad target or option. */
  constructor(target?: string, options?: ClientOptions);
  readonly target: string;
  close(): void;
  /** Uses `token` for later calls; TypeError unless printable ASCII. */
  setToken(token: string | Bytes | null): void;

  // --- CryptoService (all retried) ---
  /** Errors: InvalidArgumentError (sizes, digest misuse, algorithm not allowed); NotFoundError; FailedPreconditionError (purpose, public-only, version not usable). */
  sign(key: string, data: Bytes | null, opts?: CallOptions & {digest?: Bytes; algorithm?: EnumName}): Promise<SignResult>;
  /** False for a wrong signature. Errors: InvalidArgumentError; NotFoundError; FailedPreconditionError. */
  verify(key: string, data: Bytes | null, signature: Bytes | null, opts?: CallOptions & {digest?: Bytes; rawSignature?: Bytes; algorithm?: EnumName}): Promise<boolean>;
  /** raw: the bare ciphertext in the key type's own format (NaCl's for XSALSA20_POLY1305, XCHACHA20_POLY1305, X25519). Errors: InvalidArgumentError (sizes, associated data with a secretbox or X25519 key); NotFoundError; FailedPreconditionError. */
  encrypt(key: string, plaintext: Bytes, associatedData?: Bytes, opts?: CallOptions & {raw?: boolean}): Promise<Buffer>;
  /** NaCl crypto_box from an X25519 key to a peer's raw 32-byte public key; ciphertext is nonce || box. Errors: InvalidArgumentError (sizes, peer key); NotFoundError; FailedPreconditionError (not X25519). */
  box(key: string, peerPublicKey: Bytes, plaintext: Bytes, opts?: CallOptions): Promise<BoxResult>;
  /** Opens nonce || box (or the bare box with nonce) from peerPublicKey. Errors: InvalidArgumentError (nonce length, peer key, not authentic: no plaintext); NotFoundError; FailedPreconditionError. */
  boxOpen(key: string, peerPublicKey: Bytes, ciphertext: Bytes, opts?: CallOptions & {nonce?: Bytes}): Promise<Buffer>;
  /** Errors: InvalidArgumentError (malformed, tampered, wrong associated data: one message); NotFoundError; FailedPreconditionError. */
  decrypt(key: string, ciphertext: Bytes | null, associatedData?: Bytes, opts?: CallOptions & {rawCiphertext?: Bytes}): Promise<Buffer>;
  /** Errors: InvalidArgumentError; NotFoundError; FailedPreconditionError. */
  mac(key: string, data: Bytes, opts?: CallOptions): Promise<MacResult>;
  /** Errors: InvalidArgumentError; NotFoundError; FailedPreconditionError. */
  verifyMac(key: string, data: Bytes, mac: Bytes | null, opts?: CallOptions & {rawMac?: Bytes}): Promise<boolean>;
  /** Errors: InvalidArgumentError (length); NotFoundError; FailedPreconditionError (not AES). */
  generateDataKey(key: string, opts?: CallOptions & {length?: number; associatedData?: Bytes; wrappedOnly?: boolean}): Promise<DataKey>;
  /** Errors: as decrypt() for the source and encrypt() for the destination. */
  reEncrypt(key: string, ciphertext: Bytes, associatedData?: Bytes, opts?: CallOptions & {destination?: string; destinationAssociatedData?: Bytes}): Promise<ReEncryptResult>;
  /** format: 'pem' (default), 'der', 'jwk'. Errors: InvalidArgumentError; NotFoundError; FailedPreconditionError (symmetric, destroyed). */
  getPublicKey(key: string, opts?: CallOptions & {format?: 'pem' | 'der' | 'jwk'}): Promise<PublicKey>;
  /** getPublicKey(key, opts).publicKey. Errors: as getPublicKey(). */
  publicKey(key: string, opts?: CallOptions & {format?: 'pem' | 'der' | 'jwk'}): Promise<Buffer>;
  /** items: [key, data]. Errors of the call: InvalidArgumentError (not 1 to 1000 items); per item: as sign(). */
  batchSign(items: Array<[string, Bytes]>, opts?: CallOptions & {algorithm?: EnumName}): Promise<Array<BatchResult<SignResult>>>;
  /** items: [key, data, signature]. Errors: as batchSign(). */
  batchVerify(items: Array<[string, Bytes, Bytes]>, opts?: CallOptions): Promise<Array<BatchResult<boolean>>>;
  /** items: [key, plaintext, associatedData?]. Errors: as batchSign(). */
  batchEncrypt(items: Array<[string, Bytes, Bytes?]>, opts?: CallOptions): Promise<Array<BatchResult<Buffer>>>;
  /** items: [key, ciphertext, associatedData?]. Errors: as batchSign(). */
  batchDecrypt(items: Array<[string, Bytes, Bytes?]>, opts?: CallOptions): Promise<Array<BatchResult<Buffer>>>;

  // --- KeyService (reads retried; changes never) ---
  /** Errors: InvalidArgumentError (id, type/purpose pair, limits); AlreadyExistsError. */
  createKey(keyId: string, keyType: EnumName, opts?: CallOptions & KeyTemplate): Promise<Key>;
  /** Errors: InvalidArgumentError; NotFoundError. */
  getKey(key: string, opts?: CallOptions): Promise<Key>;
  /** Follows pages. Errors (while iterating): InvalidArgumentError. */
  listKeys(opts?: CallOptions & {prefix?: string; labels?: Record<string, string>; purpose?: EnumName; pageSize?: number}): AsyncIterableIterator<Key>;
  /** Errors: InvalidArgumentError; NotFoundError; FailedPreconditionError. */
  updateKey(key: string, opts: CallOptions & KeyFields): Promise<Key>;
  /** Returns the new primary version. Errors: NotFoundError; FailedPreconditionError (public-only); ResourceExhaustedError. */
  rotateKey(key: string, opts?: CallOptions): Promise<KeyVersion>;
  /** Errors (while iterating): InvalidArgumentError; NotFoundError. */
  listKeyVersions(key: string, opts?: CallOptions & {state?: EnumName; pageSize?: number}): AsyncIterableIterator<KeyVersion>;
  /** getKeyVersion('pay', 2) or ('keys/pay/versions/2'). Errors: InvalidArgumentError; NotFoundError. */
  getKeyVersion(key: string, number?: number | CallOptions, opts?: CallOptions): Promise<KeyVersion>;
  /** Errors: NotFoundError; FailedPreconditionError (primary, destroyed). */
  disableKeyVersion(key: string, number?: number | CallOptions, opts?: CallOptions): Promise<KeyVersion>;
  /** Errors: NotFoundError; FailedPreconditionError (destroyed). */
  enableKeyVersion(key: string, number?: number | CallOptions, opts?: CallOptions): Promise<KeyVersion>;
  /** Errors: NotFoundError; FailedPreconditionError (not disabled first). */
  destroyKeyVersion(key: string, number?: number | CallOptions, opts?: CallOptions): Promise<KeyVersion>;
  /** Exactly one of keyId (a new key) and into (a new version). Errors: InvalidArgumentError (material, passphrase, type); AlreadyExistsError; NotFoundError; FailedPreconditionError. */
  importKey(material: Bytes | null, format: EnumName, opts: CallOptions & KeyTemplate & {keyId?: string; into?: string; materialFile?: string; keyType?: EnumName; passphrase?: Bytes; passphraseFile?: string; kid?: string;
    /** Accept an HMAC secret below RFC 7518's minimum (the key is marked legacyShortSecret). */
    allowShortSecret?: boolean}): Promise<ImportedKey>;
  /** Errors: InvalidArgumentError (format, passphrase); NotFoundError; FailedPreconditionError (not exportable). */
  exportKey(key: string, opts?: CallOptions & {format?: EnumName; passphrase?: Bytes; passphraseFile?: string}): Promise<ExportedKey>;

  // --- JwtService ---
  /** Retried unless a record is kept. Errors: InvalidArgumentError (claims, ttl over the maximum); NotFoundError; AlreadyExistsError (jti recorded); FailedPreconditionError. */
  signJwt(key: string, claims?: JwtClaims | null, opts?: CallOptions & {ttl?: Seconds; typ?: string; record?: boolean; externalId?: string; metadata?: Record<string, string>; storeToken?: boolean; retention?: Seconds}): Promise<SignedJwt>;
  /** A bad token is a verdict, never an error. Errors: InvalidArgumentError (request); NotFoundError, FailedPreconditionError (pinned key). */
  verifyJwt(token: string, opts?: CallOptions & {key?: string; issuer?: string; audience?: string; typ?: string; leeway?: Seconds; allowMissingExp?: boolean; maxAgeWithoutExp?: Seconds}): Promise<JwtVerdict>;
  /** Errors: InvalidArgumentError; NotFoundError; FailedPreconditionError. */
  getJwks(keys: string | string[], opts?: CallOptions): Promise<{keys: Array<Record<string, unknown>>}>;
  /** Exactly one of payload and opts.signWith. Errors: InvalidArgumentError; NotFoundError; FailedPreconditionError. */
  encryptJwe(key: string, payload: Bytes | null, opts?: CallOptions & {signWith?: string; claims?: JwtClaims; ttl?: Seconds; algorithm?: EnumName; encryption?: EnumName; typ?: string; contentType?: string}): Promise<EncryptedJwe>;
  /** Errors: InvalidArgumentError (malformed, decryption failed: one message); NotFoundError; FailedPreconditionError. */
  decryptJwe(token: string, opts?: CallOptions & {key?: string; verifyNested?: boolean; nestedKey?: string; issuer?: string; audience?: string; typ?: string; leeway?: Seconds}): Promise<DecryptedJwe>;
  /** By jti, or by opts.externalId. Errors: InvalidArgumentError; NotFoundError. */
  getTokenRecord(jti: string | null | (CallOptions & {externalId?: string; key?: string}), opts?: CallOptions & {externalId?: string; key?: string}): Promise<TokenRecord>;
  /** Never retried. Errors: InvalidArgumentError (reason over 256 bytes); NotFoundError. */
  revokeToken(jti: string, reason?: string, opts?: CallOptions): Promise<TokenRecord>;
  /** Newest first. Errors (while iterating): InvalidArgumentError; PermissionDeniedError; NotFoundError. */
  listTokenRecords(opts?: CallOptions & {key?: string; externalId?: string; state?: EnumName; pageSize?: number}): AsyncIterableIterator<TokenRecord>;

  // --- AccessService (lists and whoAmI retried) ---
  /** Errors: InvalidArgumentError (syntax, no operations, expiry past); AlreadyExistsError. */
  createPolicy(principal: string, operations: EnumName[], resource: string, opts?: CallOptions & {policyId?: string; description?: string; expireTime?: Date}): Promise<Policy>;
  /** Errors: InvalidArgumentError; NotFoundError; FailedPreconditionError (built-in policy). */
  deletePolicy(name: string, opts?: CallOptions): Promise<void>;
  /** Errors (while iterating): InvalidArgumentError. */
  listPolicies(opts?: CallOptions & {principal?: string; key?: string; pageSize?: number}): AsyncIterableIterator<Policy>;
  /** The secret is shown this once. Errors: InvalidArgumentError; AlreadyExistsError. */
  createApiKey(apiKeyId: string, opts?: CallOptions & {description?: string; expireTime?: Date}): Promise<{apiKey: ApiKey; secret: string}>;
  /** Errors: InvalidArgumentError; NotFoundError. */
  revokeApiKey(name: string, opts?: CallOptions): Promise<ApiKey>;
  /** Errors (while iterating): InvalidArgumentError. */
  listApiKeys(opts?: CallOptions & {state?: EnumName; pageSize?: number}): AsyncIterableIterator<ApiKey>;
  /** Adopts the session token. Never retried. Errors: UnauthenticatedError (unknown, wrong, expired, revoked); ResourceExhaustedError; UnavailableError. */
  login(opts: CallOptions & {apiKeyFile?: string; apiKey?: Bytes; ttl?: Seconds}): Promise<Session>;
  /** Errors: UnauthenticatedError (bad or expired session token). */
  whoAmI(opts?: CallOptions): Promise<{principal: string; additionalPrincipals: string[]; authentication: string; transportPrincipal: string; peerAddress: string; sessionExpireTime: Timestamp | null; globalAdmin: boolean}>;

  // --- SystemService (getStatus, verifyAuditLog retried) ---
  /** Works while sealed. Errors: only the common ones. */
  getStatus(opts?: CallOptions): Promise<Record<string, any>>;
  /** Errors: PermissionDeniedError (global ADMIN). */
  seal(opts?: CallOptions): Promise<void>;
  /** Errors: UnauthenticatedError (wrong passphrase); InvalidArgumentError; FailedPreconditionError; ResourceExhaustedError; DataLossError. */
  unseal(opts: CallOptions & {passphraseFile?: string; passphrase?: Bytes; initialize?: boolean}): Promise<{created: boolean; alreadyUnsealed: boolean}>;
  /** Errors: UnauthenticatedError (old one wrong); InvalidArgumentError (new one too short/long); FailedPreconditionError; DataLossError. */
  changePassphrase(opts: CallOptions & {oldPassphraseFile?: string; newPassphraseFile?: string; oldPassphrase?: Bytes; newPassphrase?: Bytes}): Promise<void>;
  /** Streams the backup to sink in order. Errors: UnavailableError (sealed); DataLossError. */
  createBackup(sink: ((chunk: Buffer) => unknown) | NodeJS.WritableStream, opts?: CallOptions): Promise<BackupInfo | null>;
  /** The daemon is sealed afterwards. Errors: InvalidArgumentError (not a backup, wrong passphrase); DataLossError; FailedPreconditionError (keystore exists without replaceExisting). */
  restoreBackup(source: Bytes | AsyncIterable<Bytes> | Iterable<Bytes>, opts: CallOptions & {passphraseFile?: string; passphrase?: Bytes; replaceExisting?: boolean}): Promise<BackupInfo>;
  /** Leaving the loop cancels the stream. Errors (while iterating): InvalidArgumentError; DataLossError; UnavailableError. */
  readAuditLog(opts?: CallOptions & {startSequence?: number; follow?: boolean; maxRecords?: number; principal?: string; resourcePrefix?: string}): AsyncIterableIterator<AuditRecord>;
  /** DataPlaneService.Stream: sends each StreamRequest ({items: [{id, sign | verify | encrypt | decrypt | mac | verifyMac | signJwt | verifyJwt}]}) and yields every item's StreamResult ({id, status: {code, message}, and the response named as the request}) as items finish. */
  stream(requests: Iterable<object> | AsyncIterable<object>, opts?: CallOptions): AsyncIterableIterator<any>;
  /** Errors: InvalidArgumentError (end below start). */
  rotateAuditLog(opts?: CallOptions): Promise<{rotatedFile: string; lastSequence: string; firstSequence: string}>;
  verifyAuditLog(opts?: CallOptions & {startSequence?: number; endSequence?: number}): Promise<Record<string, any>>;
}

export class KeywardError extends Error {
  /** Status name, e.g. 'NOT_FOUND'. */ readonly code: string;
  /** Status number, e.g. 5. */ readonly status: number;
  /** The daemon's message. */ readonly details: string;
  /** 'Service/Method'. */ readonly method: string;
}
export class CancelledError extends KeywardError {}
export class UnknownError extends KeywardError {}
export class InvalidArgumentError extends KeywardError {}
export class DeadlineExceededError extends KeywardError {}
export class NotFoundError extends KeywardError {}
export class AlreadyExistsError extends KeywardError {}
export class PermissionDeniedError extends KeywardError {}
export class ResourceExhaustedError extends KeywardError {}
export class FailedPreconditionError extends KeywardError {}
export class AbortedError extends KeywardError {}
export class OutOfRangeError extends KeywardError {}
export class UnimplementedError extends KeywardError {}
export class InternalError extends KeywardError {}
export class UnavailableError extends KeywardError {}
export class DataLossError extends KeywardError {}
export class UnauthenticatedError extends KeywardError {}

export const DEFAULT_SYSTEM_SOCKET: string;
export function selectTarget(target?: string, env?: Record<string, string | undefined>): string;
export function parseTarget(target: string): {grpcTarget: string; host: string | null};
/** 'GetJwks' -> 'getJwks': the naming rule. */
export function camelCase(rpcName: string): string;
export function toDate(ts: Timestamp | null): Date | null;
