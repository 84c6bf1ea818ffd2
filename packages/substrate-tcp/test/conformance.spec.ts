import { describeSubstrateConformance } from '@vcl/core/testing';
import { tcpFixture } from './fixture';

describeSubstrateConformance(tcpFixture('line'));
describeSubstrateConformance(tcpFixture('length-prefixed'));
describeSubstrateConformance(tcpFixture('raw'));
