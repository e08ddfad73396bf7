// error: ParcelableHolder can only be a field of a parcelable
interface IHolderArgument { void f(in ParcelableHolder h); }
