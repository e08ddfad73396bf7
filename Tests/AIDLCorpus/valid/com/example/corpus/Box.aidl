package com.example.corpus;

parcelable Box<T> {
    T value;
    int count = 1;
}
