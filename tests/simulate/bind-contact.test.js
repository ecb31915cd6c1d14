// bind-contact, rendered with miniprogram-simulate's own JS template compiler (j-component).
'use strict';

const { defineBindContactSuite } = require('./bind-contact.suite');

defineBindContactSuite({ label: 'simulate compiler', compiler: { loadOptions: { compiler: 'simulate' } } });
