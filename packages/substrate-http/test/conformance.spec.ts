import { describeSubstrateConformance } from '@vcl/core/testing';
import { fixture } from './fixture';

describeSubstrateConformance(fixture);
