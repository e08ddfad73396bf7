package com.example.old;

parcelable OldParcelable {
    int x = 5;
    long y;
    String s = "default";
    boolean flag = true;
    int[] values;
    @nullable String note;
}
