// The road-warrior configurations of issue 13, as the seed gives them: a gateway with a pool,
// EAP-MSCHAPv2 users and a certificate, and a client asking for a virtual IP with a trap.

export const GATEWAY_CONF = `connections {
  roadwarrior {
    version = 2
    local_addrs = %any
    remote_addrs = %any
    pools = rw-pool
    local {
      auth = pubkey
      certs = gw-cert.pem
      id = vpn.example.com
    }
    remote {
      auth = eap-mschapv2
      eap_id = %any
    }
    children {
      rw-child {
        local_ts = 10.0.0.0/8
        esp_proposals = aes256gcm128-modp2048
        dpd_action = clear
      }
    }
    proposals = aes256-sha256-x25519
    send_certreq = yes
  }
}
pools {
  rw-pool {
    addrs = 10.99.0.0/24
    dns = 10.1.0.53
  }
}
secrets {
  eap-alice {
    id = alice
    secret = "alice_password_here"
  }
  eap-bob {
    id = bob
    secret = "bob_password_here"
  }
}
`;

export const CLIENT_CONF = `connections {
  office {
    version = 2
    remote_addrs = vpn.example.com
    vips = 0.0.0.0
    local {
      auth = eap-mschapv2
      eap_id = alice
    }
    remote {
      auth = pubkey
      id = vpn.example.com
    }
    children {
      office-net {
        remote_ts = 10.0.0.0/8
        start_action = trap
        dpd_action = restart
      }
    }
  }
}
secrets {
  eap-alice {
    id = alice
    secret = "alice_password_here"
  }
}
`;
