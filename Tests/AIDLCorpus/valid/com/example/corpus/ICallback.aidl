package com.example.corpus;

oneway interface ICallback {
    void onEvent(int code, @utf8InCpp String detail);
    void onDone();
}
