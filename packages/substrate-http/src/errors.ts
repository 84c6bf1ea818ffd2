import { FramingError, MessageTooLargeError } from '@vcl/core';

/** A request or response head (start line and header fields, or trailers) larger than `maxHeaderBytes`. */
export class HeadersTooLargeError extends MessageTooLargeError {}

/** A body larger than the configured maximum (`maxBodyBytes`, `maxResponseBodyBytes`). */
export class BodyTooLargeError extends MessageTooLargeError {}

/** A request the substrate does not carry (`CONNECT`, an unknown transfer coding). */
export class UnsupportedRequestError extends FramingError {}
