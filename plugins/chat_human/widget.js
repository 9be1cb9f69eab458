(function (CONFIG) { "use strict"; })(__CANALES_CHAT_CONFIG__);
