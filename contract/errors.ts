/**
 * The one error hierarchy of the service. Both deployables raise `ServiceError`s with a contract code; the
 * session host sends them back over Redis as `{code, message, details}`, and only the HTTP edge maps a code to
 * a status (see `httpStatusOf`).
 */
export const errorCodes = [
  'VALIDATION_FAILED',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'SESSION_NOT_FOUND',
  'NOT_FOUND',
  'METHOD_NOT_ALLOWED',
  'SESSION_EXISTS',
  'LIMIT_REACHED',
  'SESSION_NOT_CONNECTED',
  'QR_NOT_AVAILABLE',
  'PHONE_IN_USE',
  'PAIRING_CODE_MISMATCH',
  'CONTACT_NOT_FOUND',
  'WEBHOOK_NOT_FOUND',
  'MESSAGE_NOT_FOUND',
  'MEDIA_NOT_FOUND',
  'MESSAGE_NOT_EDITABLE',
  'RECIPIENT_NOT_ON_WHATSAPP',
  'NOT_SUPPORTED_BY_ENGINE',
  'SEND_OUTCOME_UNKNOWN',
  'IDEMPOTENCY_KEY_REUSED',
  'IDEMPOTENCY_IN_PROGRESS',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'RATE_LIMITED',
  'WHATSAPP_UNREACHABLE',
  'SESSION_HOST_UNAVAILABLE',
  'SERVICE_UNAVAILABLE',
  'TIMEOUT',
  'INTERNAL',
] as const;
export type ErrorCode = (typeof errorCodes)[number];

const httpStatusByCode: Record<ErrorCode, number> = {
  VALIDATION_FAILED: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  SESSION_NOT_FOUND: 404,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  SESSION_EXISTS: 409,
  // A cap of docs/api.md "Limits" (sessions per key, subscriptions per connection…); `details.limit` says which and how many.
  LIMIT_REACHED: 409,
  SESSION_NOT_CONNECTED: 409,
  QR_NOT_AVAILABLE: 409,
  PHONE_IN_USE: 409,
  PAIRING_CODE_MISMATCH: 409,
  CONTACT_NOT_FOUND: 404,
  WEBHOOK_NOT_FOUND: 404,
  MESSAGE_NOT_FOUND: 404,
  MEDIA_NOT_FOUND: 404,
  MESSAGE_NOT_EDITABLE: 409,
  RECIPIENT_NOT_ON_WHATSAPP: 422,
  NOT_SUPPORTED_BY_ENGINE: 422,
  // WhatsApp may have taken the message: the caller must not resend blindly (an Idempotency-Key retry never sends).
  SEND_OUTCOME_UNKNOWN: 502,
  IDEMPOTENCY_KEY_REUSED: 422,
  IDEMPOTENCY_IN_PROGRESS: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  WHATSAPP_UNREACHABLE: 502,
  SESSION_HOST_UNAVAILABLE: 503,
  SERVICE_UNAVAILABLE: 503,
  TIMEOUT: 504,
  INTERNAL: 500,
};

export function httpStatusOf(code: ErrorCode): number {
  return httpStatusByCode[code];
}

export type ErrorDetails = Record<string, unknown>;

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  details?: ErrorDetails;
}

export class ServiceError extends Error {
  override readonly name: string = 'ServiceError';
  readonly code: ErrorCode;
  readonly details: ErrorDetails | undefined;

  constructor(code: ErrorCode, message: string, options: { details?: ErrorDetails; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
  }

  toBody(): ErrorBody {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }

  static fromBody(body: ErrorBody): ServiceError {
    return new ServiceError(body.code, body.message, body.details === undefined ? {} : { details: body.details });
  }
}

export class ValidationError extends ServiceError {
  override readonly name = 'ValidationError';
  constructor(fields: Array<{ path: string; message: string }>, message = 'The request does not match the contract.') {
    super('VALIDATION_FAILED', message, { details: { fields } });
  }
}

export class SessionNotFoundError extends ServiceError {
  override readonly name = 'SessionNotFoundError';
  constructor(sessionId: string) {
    super('SESSION_NOT_FOUND', `No session named '${sessionId}'.`, { details: { sessionId } });
  }
}

export class SessionNotConnectedError extends ServiceError {
  override readonly name = 'SessionNotConnectedError';
  constructor(sessionId: string, status: string) {
    super('SESSION_NOT_CONNECTED', `Session '${sessionId}' is not connected (it is ${status}).`, {
      details: { status },
    });
  }
}

export class RecipientNotOnWhatsAppError extends ServiceError {
  override readonly name = 'RecipientNotOnWhatsAppError';
  constructor(chatId: string) {
    super('RECIPIENT_NOT_ON_WHATSAPP', `${chatId.split('@')[0] ?? chatId} is not on WhatsApp; nothing was sent.`, {
      details: { chatId },
    });
  }
}

export class ContactNotFoundError extends ServiceError {
  override readonly name = 'ContactNotFoundError';
  constructor(contactId: string) {
    super('CONTACT_NOT_FOUND', `WhatsApp knows nothing of ${contactId}.`, { details: { contactId } });
  }
}

export class MessageNotFoundError extends ServiceError {
  override readonly name = 'MessageNotFoundError';
  constructor(messageId: string) {
    super('MESSAGE_NOT_FOUND', 'No message with that id in this session.', { details: { messageId } });
  }
}

export class MediaNotFoundError extends ServiceError {
  override readonly name = 'MediaNotFoundError';
  constructor(messageId: string, reason: 'none' | 'gone') {
    super(
      'MEDIA_NOT_FOUND',
      reason === 'none' ? 'That message carries no media.' : 'WhatsApp no longer has the media of that message.',
      { details: { messageId, reason } },
    );
  }
}

export class MessageNotEditableError extends ServiceError {
  override readonly name = 'MessageNotEditableError';
  constructor(messageId: string, reason: string) {
    super('MESSAGE_NOT_EDITABLE', `That message cannot be edited: ${reason}.`, { details: { messageId } });
  }
}
