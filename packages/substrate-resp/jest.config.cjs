module.exports = {
  ...require('../../jest.preset.cjs'),
  displayName: '@vcl/substrate-resp',
};
