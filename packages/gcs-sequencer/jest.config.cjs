module.exports = {
  ...require('../../jest.preset.cjs'),
  displayName: '@vcl/gcs-sequencer',
};
