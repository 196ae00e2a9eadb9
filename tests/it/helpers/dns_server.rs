//! A tiny authoritative DNS responder on 127.0.0.1 (UDP only) with a fixed zone, so DNS
//! outcomes can be tested without the network:
//!
//! | name            | answer                                  |
//! |-----------------|-----------------------------------------|
//! | `good.test.`    | A 127.0.0.1 (AAAA: NOERROR, no records) |
//! | `servfail.test.`| SERVFAIL                                |
//! | `empty.test.`   | NOERROR, no records                     |
//! | anything else   | NXDOMAIN                                |

use std::net::{Ipv4Addr, SocketAddr};

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

/// Start the responder; abort the handle to stop it.
pub async fn start() -> (SocketAddr, JoinHandle<()>) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind DNS responder");
    let addr = socket.local_addr().expect("DNS responder address");
    let task = tokio::spawn(async move {
        let mut buf = [0u8; 4096];
        loop {
            let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
                continue;
            };
            let Ok(request) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            if let Ok(bytes) = answer(&request).to_vec() {
                let _ = socket.send_to(&bytes, peer).await;
            }
        }
    });
    (addr, task)
}

fn answer(request: &Message) -> Message {
    let mut response = Message::new();
    response
        .set_id(request.id())
        .set_message_type(MessageType::Response)
        .set_op_code(request.op_code())
        .set_authoritative(true)
        .set_recursion_desired(request.recursion_desired())
        .set_recursion_available(true);
    let Some(query) = request.query() else {
        response.set_response_code(ResponseCode::FormErr);
        return response;
    };
    response.add_query(query.clone());
    let name = query.name().to_ascii().to_ascii_lowercase();
    match name.trim_end_matches('.') {
        "good.test" => {
            if query.query_type() == RecordType::A {
                let rdata = RData::A(A(Ipv4Addr::LOCALHOST));
                response.add_answer(Record::from_rdata(query.name().clone(), 60, rdata));
            }
        }
        "servfail.test" => {
            response.set_response_code(ResponseCode::ServFail);
        }
        "empty.test" => {}
        _ => {
            response.set_response_code(ResponseCode::NXDomain);
        }
    }
    response
}
