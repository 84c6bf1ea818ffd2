import { VclError } from '../../errors';

/** A member process log line that is not a log event (a harness bug, not a SIGKILL: those only cut the last line). */
export class MalformedLogError extends VclError {
  override readonly code = 'VCL_MALFORMED_LOG';
}

/** A member process that exited or failed when the harness did not make it. */
export class MemberProcessError extends VclError {
  override readonly code = 'VCL_MEMBER_PROCESS';
}

/** A built file the harness needs (the member entry) that is missing or cannot be built. */
export class MissingBuildError extends VclError {
  override readonly code = 'VCL_MISSING_BUILD';
}
