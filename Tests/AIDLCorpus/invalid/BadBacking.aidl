// error: invalid @Backing type 'short'
@Backing(type="short") enum BadBacking { A }
