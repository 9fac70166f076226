// Stand-in for react-devtools-core (see package.json): ink's devtools hook finds nothing to do.
export default {
  initialize() {},
  connectToDevTools() {},
};
