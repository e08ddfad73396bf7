// error: is not fixed size
@FixedSize parcelable NotFixed { String s; }
