//! The decoders are total: arbitrary bytes, and valid files with bytes flipped or cut, give an
//! error or a value, never a panic or an allocation beyond the input's size.

use corral_zkdata::txnlog::{self, append_record, file_header};
use corral_zkdata::{snapshot, txn, ZkTree};
use proptest::prelude::*;

fn valid_log() -> Vec<u8> {
    let mut bytes = file_header();
    for zxid in 1..4 {
        let header = corral_zkdata::records::TxnHeader {
            client_id: 1,
            cxid: 0,
            zxid,
            time: 0,
            txn_type: 2,
        };
        let body = corral_zkdata::records::DeleteTxn { path: "/x".into() };
        append_record(&mut bytes, &txn::encode(&header, &body, None));
    }
    bytes
}

proptest! {
    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = snapshot::read(&bytes, 1);
        let _ = txnlog::scan(&bytes, 1 << 20);
        let _ = txn::decode(&bytes);
    }

    #[test]
    fn damaged_files(flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
                     cut in any::<prop::sample::Index>()) {
        for mut bytes in [snapshot::write(&ZkTree::new(), 1), valid_log()] {
            for (at, value) in &flips {
                let i = at.index(bytes.len());
                bytes[i] = *value;
            }
            let end = cut.index(bytes.len() + 1);
            let _ = snapshot::read(&bytes[..end], 1);
            let _ = txnlog::scan(&bytes[..end], 1 << 20);
        }
    }
}
