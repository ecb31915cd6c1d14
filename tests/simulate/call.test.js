// The call component, rendered with miniprogram-simulate's own JS template compiler (j-component).
'use strict';

const { defineCallSuite } = require('./call.suite');

defineCallSuite({ label: 'simulate compiler', compiler: { loadOptions: { compiler: 'simulate' } } });
